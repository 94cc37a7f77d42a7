"""Speed and soundness of the scaling-law fit (prints figures; not a test).

  python -m analysis.benchmark_fit [--bootstrap=1000] [--coverage_draws=100]

1. full fit of the 240 Chinchilla points (Epoch's set, 5 highest-loss points dropped) from the
   4500-start grid: time cold (with JAX compilation) and warm;
2. the same optimum as running every grid start to convergence (objective and parameters);
3. 1000 bootstrap refits: time, and on a few resamples the same optimum as the exhaustive grid;
4. calibration: coverage of the true exponents by 80% intervals over repeated synthetic draws.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import bootstrap, coverage, joint_law, lse_law

CHINCHILLA = Path(__file__).resolve().parents[1].parent / "shared/data/chinchilla_fig4_points.csv"


def _chinchilla(path):
  points = pd.read_csv(path).sort_values("loss").iloc[:-5]
  n = points["Model Size"].to_numpy()
  return joint_law.log_features(n, points["Training FLOP"].to_numpy() / (6 * n)), np.log(
      points["loss"].to_numpy())


def _timed(function, *args, **kwargs):
  start = time.perf_counter()
  result = function(*args, **kwargs)
  return result, time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--csv", default=str(CHINCHILLA))
  parser.add_argument("--bootstrap", type=int, default=bootstrap.DEFAULT_RESAMPLES)
  parser.add_argument("--exhaustive_resamples", type=int, default=5)
  parser.add_argument("--coverage_draws", type=int, default=100)
  parser.add_argument("--coverage_resamples", type=int, default=200)
  args = parser.parse_args()

  log_x, log_y = _chinchilla(args.csv)
  print(f"data: {len(log_y)} points from {args.csv}")
  _, cold = _timed(lse_law.fit, log_x, log_y)
  full, warm = _timed(lse_law.fit, log_x, log_y)
  named = joint_law.named(full.params)
  print(f"[1] full fit, {len(lse_law.start_grid(2))} grid starts: {warm:.2f} s "
        f"({cold:.2f} s with JAX compilation)")
  print("    " + ", ".join(f"{k}={v:.4g}" for k, v in named.items()) +
        f", objective={full.objective:.10g}")

  exhaustive, exhaustive_time = _timed(lse_law.fit_exhaustive, log_x, log_y)
  gap = (full.objective - exhaustive.objective) / exhaustive.objective
  print(f"[2] exhaustive grid (every start to convergence): {exhaustive_time:.2f} s, objective "
        f"{exhaustive.objective:.10g}; pruned minus exhaustive = {gap:+.2e} (relative), "
        f"max |parameter difference| = {np.max(np.abs(full.params - exhaustive.params)):.2e}")

  counts = bootstrap.resample_counts(len(log_y), args.bootstrap, seed=0)
  warm_starts = full.local_optima[:joint_law.WARM_STARTS]
  (samples, objectives), boot_time = _timed(lse_law.fit_resamples, log_x, log_y, counts,
                                            warm_starts)
  low, high = bootstrap.interval(joint_law.named(samples)["alpha"], 0.95)
  print(f"[3] {args.bootstrap} bootstrap refits ({len(warm_starts)} distinct starts each): "
        f"{boot_time:.2f} s; alpha 95% interval [{low:.3f}, {high:.3f}]; "
        f"failed refits: {int(np.sum(~np.isfinite(objectives)))}")
  gaps = []
  for r in range(args.exhaustive_resamples):
    reference = lse_law.fit_exhaustive(log_x, log_y, counts[r])
    gaps.append((objectives[r] - reference.objective) / reference.objective)
  if gaps:
    print(f"    on {len(gaps)} resamples, warm-started refit minus exhaustive grid objective: "
          f"max {max(gaps):+.2e} (relative; <= 0 means as good or better)")

  result, coverage_time = _timed(coverage.exponent_coverage, args.coverage_draws,
                                 args.coverage_resamples, level=0.8, seed=1)
  print(f"[4] coverage of true exponents by 80% intervals over {args.coverage_draws} draws "
        f"({args.coverage_resamples} resamples each, {len(coverage.MODEL_SIZES)}x"
        f"{len(coverage.DATA_SIZES)} grid, {coverage.NOISE:.0%} noise): "
        f"alpha {result['alpha']:.0%}, beta {result['beta']:.0%} ({coverage_time:.0f} s)")


if __name__ == "__main__":
  main()
