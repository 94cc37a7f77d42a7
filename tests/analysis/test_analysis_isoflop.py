"""Chinchilla approach 2 (iso-FLOP parabolas): the published exponents on the Chinchilla points,
the analytic ones on a known law, and the cross-check table beside approach 3."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import cross_check, frontier, isoflop, joint_law, one_axis

DATA = Path(__file__).resolve().parents[2].parent / "shared/data/chinchilla_fig4_points.csv"
PUBLISHED = {"a": 0.49, "b": 0.51}  # Hoffmann et al. 2022, Table 2, approach 2
LAW = {"E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.3, "beta": 0.35}


@pytest.fixture(scope="module")
def chinchilla():
  points = pd.read_csv(DATA)
  table = pd.DataFrame({"N": points["Model Size"], "C": points["Training FLOP"],
                        "loss": points["loss"]})
  return isoflop.fit(table, frontier.CHINCHILLA_FLOPS_PER_PARAM_TOKEN, num_resamples=300)


def test_chinchilla_points_give_the_published_exponents(chinchilla):
  for name, published in PUBLISHED.items():
    stat = chinchilla[name]
    assert stat["value"] == pytest.approx(published, abs=0.01), stat
    assert stat["lo"] <= published <= stat["hi"]
  assert chinchilla["a"]["value"] + chinchilla["b"]["value"] == pytest.approx(1.0)
  assert sum(s["N_opt"] is not None for s in chinchilla["slices"]) >= 9


def _iso_flop_grid(budgets, sizes_per_budget=7):
  rows = []
  for budget in budgets:
    n_opt = frontier.optimal_n(LAW, budget)
    for n in n_opt * np.geomspace(0.2, 5.0, sizes_per_budget):
      d = budget / (6 * n)
      rows.append({"N": n, "D": d, "C": budget,
                   "loss": LAW["E"] + LAW["A"] / n**LAW["alpha"] + LAW["B"] / d**LAW["beta"]})
  return pd.DataFrame(rows)


def test_known_law_gives_the_analytic_exponents():
  result = isoflop.fit(_iso_flop_grid(np.geomspace(1e17, 1e21, 5)), 6.0, num_resamples=50)
  a, b = frontier.exponents(LAW)
  # parabolas in log N only approximate the iso-FLOP curve: a few percent of the exponent
  assert result["a"]["value"] == pytest.approx(a, abs=0.02)
  assert result["b"]["value"] == pytest.approx(b, abs=0.02)


def test_grid_without_slices_is_skipped_with_the_reason():
  table = pd.DataFrame({"N": [1e6, 1e7, 1e8], "C": [1e15, 1e17, 1e19], "loss": [3.0, 2.5, 2.2]})
  result = isoflop.fit(table, 6.0, num_resamples=0)
  assert result["skipped"].startswith("0 iso-FLOP slice(s) with >= 3 model sizes")


def test_cross_check_flags_approaches_whose_intervals_do_not_overlap():
  summaries = {name: {"value": 0.5, "lo": 0.45, "hi": 0.55} for name in ("a", "b")} | {
      name: {"value": 0.3, "lo": 0.25, "hi": 0.35} for name in ("alpha", "beta")}
  iso = {"a": {"value": 0.7, "lo": 0.65, "hi": 0.75}, "b": {"value": 0.5, "lo": 0.4, "hi": 0.6}}
  laws = {"loss_vs_N_per_D": [{"D": 100.0, "alpha": 0.31, "alpha_lo": 0.2, "alpha_hi": 0.4}],
          "loss_vs_D_per_N": [{"N": 1e6, "skipped": "only 2 distinct D"}]}
  rows = cross_check.exponent_rows(summaries, iso, laws)
  verdicts = {(row["quantity"], row["approach"]): row["agrees_with_approach_3"] for row in rows}
  assert verdicts[("a", "approach 2 (iso-FLOP parabolas)")] is False
  assert verdicts[("b", "approach 2 (iso-FLOP parabolas)")] is True
  assert verdicts[("alpha", "one-axis L(N) at D = 100")] is True
  assert cross_check.disagreements(rows) == [
      "a: approach 2 (iso-FLOP parabolas) gives 0.7 [0.65, 0.75], outside approach 3's "
      "[0.45, 0.55]"]


def test_one_axis_plateau_is_the_joint_laws_e_plus_term():
  n, d = (g.ravel() for g in np.meshgrid(np.geomspace(1e5, 1e8, 4), np.geomspace(1e3, 1e5, 4),
                                        indexing="ij"))
  loss = LAW["E"] + LAW["A"] / n**LAW["alpha"] + LAW["B"] / d**LAW["beta"]
  table = pd.DataFrame({"N": n, "D": d, "loss": loss})
  fit = joint_law.fit(n, d, loss, num_resamples=0)
  laws = {"loss_vs_D_per_N": one_axis.fit_per_group(table, "N", "D", noise=0.01,
                                                    num_resamples=50),
          "loss_vs_N_per_D": one_axis.fit_per_group(table, "D", "N")}
  plateaus = cross_check.plateaus(fit, laws)
  for law, plateau in zip(laws["loss_vs_D_per_N"], plateaus["loss_vs_D_per_N"]):
    expected = LAW["E"] + LAW["A"] / law["N"]**LAW["alpha"]
    assert plateau == pytest.approx(expected, rel=1e-3)
    assert law["E"] == pytest.approx(expected, rel=1e-2)  # the one-axis constant is this sum
    assert law["beta_lo"] <= LAW["beta"] <= law["beta_hi"]


def test_drift_names_an_exponent_that_changes_along_the_other_axis():
  steady = {"loss_vs_N_per_D": [{"D": 100.0, "alpha": 0.3, "alpha_lo": 0.2, "alpha_hi": 0.4},
                                {"D": 1000.0, "alpha": 0.32, "alpha_lo": 0.25, "alpha_hi": 0.4}],
            "loss_vs_D_per_N": []}
  assert cross_check.drift(steady) == []
  drifting = {"loss_vs_N_per_D": [{"D": 1000.0, "alpha": 0.04, "alpha_lo": 0.01, "alpha_hi": 0.09},
                                  {"D": 100.0, "alpha": 2.0, "alpha_lo": 0.7, "alpha_hi": 30.0}],
              "loss_vs_D_per_N": [{"N": 1e6, "skipped": "only 2 distinct D"}]}
  (line,) = cross_check.drift(drifting)
  assert line.startswith("alpha along N moves from 2 at D = 100 to 0.04 at D = 1e+03")
