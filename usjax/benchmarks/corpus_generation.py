"""Benchmark: synthetic exams generated per second on one core at the default size.

    python -m usjax.benchmarks.corpus_generation [--exams 300] [--image-size 128] [--seed 0]

Pins the process to one CPU and numpy's thread pools to one thread, builds the per-config
texture banks once (warm-up, reported apart), then times `generate_exam` over consecutive
indices. Prints wall-clock and process-CPU rates: on a machine shared with other jobs the CPU
rate is the per-core throughput, the wall rate what this run got.
(The array_record writing half of the corpus benchmark belongs to the TFDS builder.)
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy starts its thread pools

import argparse  # noqa: E402
import time  # noqa: E402

from usjax.data.synthetic import SyntheticConfig, generate_exam  # noqa: E402
from usjax.data.synthetic import texture  # noqa: E402


def _pin_to_one_core():
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return core
    return None


def run(exams: int, image_size: int, seed: int) -> dict[str, float]:
    cfg = SyntheticConfig(seed=seed, image_size=image_size)
    start = time.perf_counter()
    texture.texture_banks(cfg.seed, cfg.image_size, cfg.texture_bank_size)
    warmup_s = time.perf_counter() - start
    views = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(exams):
        views += len(generate_exam(index, cfg).images)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"exams": exams, "views": views, "warmup_s": warmup_s,
            "exams_per_s_wall": exams / wall, "views_per_s_wall": views / wall,
            "exams_per_s_cpu": exams / cpu, "views_per_s_cpu": views / cpu,
            "ms_per_view_cpu": 1e3 * cpu / views}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=SyntheticConfig.image_size)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    core = _pin_to_one_core()
    result = run(args.exams, args.image_size, args.seed)
    print(f"synthetic corpus generation, {args.image_size}x{args.image_size}, one core "
          f"(cpu {core}), {result['exams']} exams / {result['views']} views")
    print(f"  texture banks (once per config): {result['warmup_s']:.2f} s")
    for clock in ("wall", "cpu"):
        print(f"  {clock + ':':5} {result[f'exams_per_s_{clock}']:.1f} exams/s  "
              f"{result[f'views_per_s_{clock}']:.0f} views/s")
    print(f"  cpu time per view: {result['ms_per_view_cpu']:.2f} ms")


if __name__ == "__main__":
    main()
