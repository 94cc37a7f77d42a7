"""Validation against Epoch AI's replication of Chinchilla approach 3 (Besiroglu et al., 2024)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import bootstrap, frontier, joint_law

DATA = Path(__file__).resolve().parents[2].parent / "shared/data/chinchilla_fig4_points.csv"
# Epoch's 95% bootstrap intervals.
EPOCH_INTERVALS = {"A": (285.0, 744.0), "B": (1042.0, 5810.0), "E": (1.769, 1.871),
                   "alpha": (0.317, 0.373), "beta": (0.331, 0.415)}
EPOCH_POINT = {"A": 482.0, "B": 2085.4, "E": 1.817, "alpha": 0.348, "beta": 0.366}


@pytest.fixture(scope="module")
def chinchilla():
  points = pd.read_csv(DATA).sort_values("loss").iloc[:-5]  # drop the 5 highest-loss points
  n = points["Model Size"].to_numpy()
  d = points["Training FLOP"].to_numpy() / (6 * n)
  return n, d, points["loss"].to_numpy()


@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla):
  return joint_law.fit(*chinchilla, num_resamples=100, seed=0)


def test_data_is_the_published_set(chinchilla):
  assert len(chinchilla[0]) == 240


def test_point_fit_inside_epoch_intervals(chinchilla_fit):
  params = chinchilla_fit.params
  for name, (low, high) in EPOCH_INTERVALS.items():
    assert low <= params[name] <= high, (name, params[name])
  assert params["alpha"] == pytest.approx(EPOCH_POINT["alpha"], abs=0.005)
  assert params["beta"] == pytest.approx(EPOCH_POINT["beta"], abs=0.005)
  assert params["E"] == pytest.approx(EPOCH_POINT["E"], abs=0.01)


def test_bootstrap_intervals_overlap_epochs(chinchilla_fit):
  samples = chinchilla_fit.sample_params()
  assert np.all(np.isfinite(chinchilla_fit.sample_objectives))
  for name, (low, high) in EPOCH_INTERVALS.items():
    ours_low, ours_high = bootstrap.interval(samples[name], 0.95)
    assert ours_low < EPOCH_POINT[name] < ours_high, name
    # Same width to within a factor 1.6 (only 100 resamples here).
    assert 1 / 1.6 < (ours_high - ours_low) / (high - low) < 1.6, name


def test_frontier_exponents_near_half(chinchilla_fit):
  a, b = frontier.exponents(chinchilla_fit.params)
  assert a + b == pytest.approx(1.0)
  assert 0.45 < a < 0.56


def test_recipe_is_reported(chinchilla_fit):
  recipe = chinchilla_fit.recipe
  assert recipe["huber_delta"] == 1e-3
  assert "summed" in recipe["loss"]
  assert "L-BFGS" in recipe["optimizer"] and "float64" in recipe["optimizer"]
  assert recipe["starts"].startswith("4500 grid starts")
  assert recipe["bootstrap_resamples"] == 100
