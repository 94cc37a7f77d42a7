"""Input pipeline throughput: batches/s and exams/s at the default config, for 0, 1 and 2 workers.

    python -m usjax.benchmarks.pipeline [--batches=40] [--workers=0,1,2] [--config.data.name=...]

Builds the default corpus (`experiments/base.py`, data.name) on first use. Each measurement starts
a fresh training iterator, discards the first batches (worker start-up, tokenizer load) and times
the next `--batches`, in wall-clock time and in CPU time of the main and worker processes.
Compare exams/s with what the training step consumes (`python -m usjax.benchmarks.model` at the
same batch, views, image size and text length): the pipeline should deliver at least 5x that.
"""
import os
import time

import psutil
from absl import app, flags
from ml_collections import config_flags

from usjax.data import pipeline

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/base.py", "run config")
_BATCHES = flags.DEFINE_integer("batches", 40, "batches timed per setting")
_WARMUP = flags.DEFINE_integer("warmup", 4, "batches discarded before timing")
_WORKERS = flags.DEFINE_list("workers", ["0", "1", "2"], "worker counts to measure")


def _cpu_seconds() -> dict[int, float]:
    """CPU time (user + system) so far of this process and each of its live descendants."""
    me = psutil.Process()
    seconds = {}
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def measure(config, workers: int, batches: int, warmup: int) -> tuple[float, float, float]:
    """(batches/s, exams/s, exams per CPU-second) of a fresh iterator with `workers` worker
    processes. The last is what one dedicated core would deliver: on a shared machine wall-clock
    rates mostly measure the other users."""
    config = config.copy_and_resolve_references()
    config.data.workers = workers
    iterator = pipeline.make_train_iterator(config, 0, 1)
    for _ in range(warmup):
        next(iterator)
    cpu_start, start = _cpu_seconds(), time.perf_counter()
    for _ in range(batches):
        next(iterator)
    elapsed, cpu_end = time.perf_counter() - start, _cpu_seconds()
    cpu = sum(cpu_end[pid] - cpu_start[pid] for pid in cpu_end if pid in cpu_start)
    exams = batches * config.data.batch_size
    return batches / elapsed, exams / elapsed, exams / cpu


def main(argv):
    del argv
    config = _CONFIG.value
    d = config.data
    print(f"pipeline: {d.name}, batch {d.batch_size}, {d.max_images} views at {d.image_size}px, "
          f"text_len {d.text_len}, augment={d.augment}, read_threads={d.read_threads}")
    pipeline.tokenizer_for(config)  # train the tokenizer (once) outside the timings
    for workers in (int(w) for w in _WORKERS.value):
        batches_per_s, exams_per_s, exams_per_cpu_s = measure(config, workers, _BATCHES.value,
                                                              _WARMUP.value)
        per_worker = f", {exams_per_s / workers:.0f} exams/s per worker" if workers else ""
        print(f"workers={workers}: {batches_per_s:.2f} batches/s, {exams_per_s:.0f} exams/s"
              f"{per_worker}; {exams_per_cpu_s:.0f} exams per CPU-second (all processes)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")


if __name__ == "__main__":
    app.run(main)
