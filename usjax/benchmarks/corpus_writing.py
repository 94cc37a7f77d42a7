"""Benchmark: synthetic exams generated, encoded and written to array_record per second, one core.

    python -m usjax.benchmarks.corpus_writing [--exams 300] [--image-size 128] [--workers 2]

Pins itself to one CPU core, then times on the same exams: generation (`generate_exam`), feature
encoding (PNG) of the generated exams, and the full TFDS build of a `us_exams` corpus into a
temporary data_dir (generation, encoding, serialisation, array_record). The write rate is the
full build minus generation. With --workers N (N > 1) it runs unpinned and also times a build
with N generator processes. Wall figures vary with machine load; CPU-time figures much less.
"""
import argparse
import os
import tempfile
import time


def _pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


class _Timer:
    """Wall time and this process's CPU time: on a machine shared with others the CPU rate is the
    steadier figure (one pinned core: CPU seconds = seconds the core worked for us)."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def _rates(count: int, wall: float, cpu: float) -> str:
    return (f"{count / cpu:7.1f} exams/CPU-s ({cpu * 1e3 / count:6.2f} ms/exam)   "
            f"{count / wall:7.1f} exams/s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=300, help="exams per measurement")
    parser.add_argument("--image-size", type=int, default=128, help="view height = width")
    parser.add_argument("--workers", type=int, default=1,
                        help="also time a build with this many generator processes (unpinned)")
    args = parser.parse_args()
    pinning = _pin_to_one_core() if args.workers <= 1 else "not pinned"  # before TF starts

    from usjax.data import us_exams
    from usjax.data.synthetic import SyntheticConfig, generate_exam
    from usjax.data.us_exams import features

    config = SyntheticConfig(seed=0, image_size=args.image_size)
    generate_exam(0, config)  # warm per-config caches (texture bank) outside the timings
    with _Timer() as generate:
        exams = [generate_exam(i, config) for i in range(args.exams)]
    with _Timer() as encode:
        encoded = [features.to_example(exam) for exam in exams]
    views = sum(len(exam.images) for exam in exams)
    megabytes = sum(len(png) for ex in encoded for png in ex["images"] + ex["masks"]) / 2**20

    builder_config = us_exams.UsExamsConfig(name="benchmark", num_exams=args.exams,
                                            image_size=args.image_size)
    build = _time_build(builder_config, num_workers=1)

    print(f"us_exams corpus writing, {args.exams} exams, {args.image_size}x{args.image_size}, "
          f"{views / args.exams:.1f} views/exam, PNG {megabytes / args.exams * 1024:.0f} KiB/exam, "
          f"{pinning}")
    print(f"  generate (numpy)            {_rates(args.exams, generate.wall, generate.cpu)}")
    print(f"  encode features (PNG)       {_rates(args.exams, encode.wall, encode.cpu)}")
    print(f"  full build (gen+enc+write)  {_rates(args.exams, build.wall, build.cpu)}")
    print(f"  write = build - generate    "
          f"{_rates(args.exams, build.wall - generate.wall, build.cpu - generate.cpu)}")
    if args.workers > 1:
        parallel = _time_build(builder_config, num_workers=args.workers)
        print(f"  full build, {args.workers} workers      {args.exams / parallel.wall:7.1f} "
              "exams/s wall")


def _time_build(builder_config, num_workers: int) -> _Timer:
    from usjax.data import us_exams
    with tempfile.TemporaryDirectory() as data_dir:
        us_exams.UsExams(config=builder_config, data_dir=data_dir)  # TFDS set-up, not timed
        with _Timer() as build:
            us_exams.ensure_built(builder_config, data_dir, num_workers=num_workers)
    return build


if __name__ == "__main__":
    main()
