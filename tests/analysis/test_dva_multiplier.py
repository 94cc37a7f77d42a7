"""The data-vs-architecture table on synthetic sweeps with a known answer: an arm that is exactly
the baseline at twice the data is worth 2x (inside its interval), a worse arm < 1, an arm beyond
the baseline's sizes is flagged; losses of another model family are not compared; the law fit
agrees with analysis.metric_law."""
import numpy as np
import pandas as pd
import pytest

from analysis import data_vs_architecture as dva
from analysis import effective_data, metric_law

SIZES = np.array([77, 153, 306, 383, 536, 766], np.float64)
LOSS = dict(E=0.7, c=30.0, alpha=0.6)        # falls with D
ACCURACY = dict(E=0.9, c=-2.0, alpha=0.5)    # rises with D
NOISE = 0.004                                # relative, per run
RESAMPLES = 300


def _law(law, d):
  return law["E"] + law["c"] * d**-law["alpha"]


def _runs(arm, sizes, data_factor, seeds, rng, module="generative", n=3.6e5):
  rows = []
  for d in sizes:
    for seed in range(seeds):
      noise = np.exp(NOISE * rng.standard_normal(2))
      rows.append({"run": f"d{d:.0f}-seed{seed}-{arm}", "arm": arm, "arm_module": module, "N": n,
                   "D": d, "C": 1.0, "loss": _law(LOSS, data_factor * d) * noise[0],
                   "metric/classify/mean_accuracy": _law(ACCURACY, data_factor * d) * noise[1]})
  return rows


@pytest.fixture(scope="module")
def result():
  rng = np.random.default_rng(0)
  rows = (_runs("baseline", SIZES, 1.0, 2, rng) + _runs("twice", SIZES[1:4], 2.0, 2, rng)
          + _runs("worse", SIZES[1:5], 0.5, 2, rng) + _runs("beyond", SIZES[3:], 4.0, 1, rng)
          + _runs("contrastive", SIZES[1:5], 1.0, 1, rng, module="contrastive", n=2e5))
  return dva.compare(pd.DataFrame(rows), "baseline", num_resamples=RESAMPLES, seed=0)


def _row(result, column, arm):
  return next(row for row in result["metrics"][column]["arms"] if row["arm"] == arm)


@pytest.mark.parametrize("column", ["loss", "metric/classify/mean_accuracy"])
def test_arm_at_twice_the_data_is_worth_two(result, column):
  stat = _row(result, column, "twice")["multiplier"]
  assert stat["value"] == pytest.approx(2.0, rel=0.1)
  assert stat["lo_95"] <= stat["lo_80"] <= 2.0 <= stat["hi_80"] <= stat["hi_95"], stat
  assert stat["hi_95"] / stat["lo_95"] < 2.0  # informative, not a blanket interval
  for size in _row(result, column, "twice")["sizes"]:
    assert size["range"] == "in range" and size["D_eff"] == pytest.approx(2 * size["D"], rel=0.15)


@pytest.mark.parametrize("column", ["loss", "metric/classify/mean_accuracy"])
def test_worse_arm_is_below_one(result, column):
  row = _row(result, column, "worse")
  assert row["multiplier"]["hi_95"] < 1.0
  assert row["multiplier"]["value"] == pytest.approx(0.5, rel=0.15)


def test_out_of_range_is_flagged_not_hidden(result):
  row = _row(result, "loss", "beyond")
  assert [size["range"] for size in row["sizes"]] == ["beyond the baseline's range (above)"] * 3
  assert row["beyond_range"] == [383.0, 536.0, 766.0] and "3 of 3 sizes beyond" in row["note"]
  assert row["multiplier"]["value"] > 1.0  # reported, with its flag
  assert "beyond (extrapolated)" in dva.verdict(result["metrics"]["loss"])


def test_losses_of_another_model_family_are_not_compared(result):
  assert "contrastive" not in [row["arm"] for row in result["metrics"]["loss"]["arms"]]
  contrastive = _row(result, "metric/classify/mean_accuracy", "contrastive")
  assert contrastive["multiplier"]["lo_95"] <= 1.0 <= contrastive["multiplier"]["hi_95"]


def test_flat_baseline_gives_a_reason_not_a_multiplier():
  rng = np.random.default_rng(1)
  rows = [{"run": f"r{i}", "arm": arm, "arm_module": "", "N": 1.0, "D": d, "C": 1.0,
           "loss": 1.0 + 0.01 * rng.standard_normal()}
          for i, (arm, d) in enumerate([("baseline", d) for d in SIZES] + [("moe", 153.0)])]
  entry = dva.compare(pd.DataFrame(rows), "baseline", num_resamples=50)["metrics"]["loss"]
  assert entry["arms"] == []
  assert "no trend" in entry["skipped"] or "does not change" in entry["skipped"]


def test_fit_agrees_with_metric_law():
  rng = np.random.default_rng(2)
  d = np.repeat(SIZES, 2)
  metric = _law(LOSS, d) * np.exp(0.01 * rng.standard_normal(d.size))
  ours = effective_data.fit(d, metric)
  reference = metric_law.fit(d, metric)
  assert ours["alpha"][0] == pytest.approx(reference["alpha"], rel=1e-3)
  assert ours["E"][0] == pytest.approx(reference["E"], rel=1e-3)
  assert ours["c"][0] == pytest.approx(reference["A"], rel=1e-3)
  target = _law(LOSS, 300.0)
  assert effective_data.data_for(ours, [target])[0, 0] == pytest.approx(300.0, rel=0.05)
  assert effective_data.data_for(ours, [ours["E"][0] - 0.01])[0, 0] == np.inf
