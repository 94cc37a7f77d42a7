"""Bootstrap calibration: 80% intervals cover the true exponents in 65-95% of noisy draws.

Smaller than the benchmark (python -m analysis.benchmark_fit runs the full-size check) but still
a real test: 24 draws x 2 exponents = 48 Bernoulli trials, whose coverage must land in the band.
"""
from analysis import coverage


def test_80_percent_intervals_cover_true_exponents():
  result = coverage.exponent_coverage(draws=24, resamples=80, level=0.8, seed=11)
  pooled = (result["alpha"] + result["beta"]) / 2
  assert 0.65 <= pooled <= 0.95, result
  assert 0.5 <= result["alpha"] <= 1.0 and 0.5 <= result["beta"] <= 1.0, result
