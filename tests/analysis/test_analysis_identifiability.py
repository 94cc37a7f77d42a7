"""Identifiability of the joint law on grids drawn from known laws: a grid narrow in N is flagged
(with the reason in one line), a wide one is not; the flags reach fit.json and report.md."""
import json

import numpy as np
import pandas as pd
import pytest

from analysis import coverage, identifiability, joint_law, report

LAW = coverage.TRUE_LAW
NOISE = 0.01                            # 1% on the loss, as small runs' validation losses
NARROW_N = np.geomspace(1e6, 1e7, 4)    # 1 decade: E, A and alpha trade off
WIDE_N = np.geomspace(1e5, 1e8, 5)      # 3 decades
# 3 decades of D for both: with 2, E and B trade off even on the wide-N grid (at D = 1e5 the B
# term is still above E), and the test is about N.
DATA_SIZES = np.geomspace(1e3, 1e6, 5)


def _assess(model_sizes, seed):
  n, d, loss = coverage.synthetic_grid(LAW, np.random.default_rng(seed), NOISE, model_sizes,
                                       DATA_SIZES)
  fit = joint_law.fit(n, d, loss, num_resamples=200, seed=seed)
  return identifiability.assess(fit, n, d, loss)


@pytest.fixture(scope="module")
def narrow():
  return _assess(NARROW_N, seed=0)


@pytest.fixture(scope="module")
def wide():
  return _assess(WIDE_N, seed=0)


def test_narrow_grid_flags_alpha_with_a_one_line_reason(narrow):
  assert not narrow["alpha"]["identified"]
  line = identifiability.summary_line("alpha", narrow)
  assert line.startswith("N spans 1.0 decades;") and "\n" not in line
  assert narrow["N_decades"] == pytest.approx(1.0)


def test_wide_grid_identifies_every_parameter(wide):
  missing = identifiability.unidentified(wide, joint_law.NAMES)
  assert missing == [], {name: wide[name]["reasons"] for name in missing}
  assert identifiability.summary_line("alpha", wide) == ""


def test_flat_profile_is_what_flags_narrow_alpha(narrow, wide):
  """The profile over alpha stays within the noise over much of the scan on the narrow grid, and
  rises out of it on the wide one."""
  assert narrow["alpha"]["profile"]["within_noise_fraction"] >= identifiability.FLAT_FRACTION
  assert wide["alpha"]["profile"]["within_noise_fraction"] < identifiability.FLAT_FRACTION
  assert any(reason.startswith("flat profile") for reason in narrow["alpha"]["reasons"])


def test_bound_reason_names_the_bound():
  reasons = identifiability._bound_reasons("E", 1e-9, 0.5, min_loss=2.0)
  assert reasons == ["E's interval reaches 0 (its low end 1e-09 is negligible next to the "
                     "smallest loss 2)"]
  assert identifiability._bound_reasons("beta", 0.2, 0.4, min_loss=2.0) == []
  assert "reaches 0" in identifiability._bound_reasons("alpha", 0.001, 0.4, 2.0)[0]


def test_correlated_but_narrow_parameters_are_not_a_trade_off():
  assert not identifiability.is_wide("beta", 0.28, 0.31, min_loss=2.0)
  assert identifiability.is_wide("alpha", 0.1, 0.9, min_loss=2.0)
  assert identifiability.is_wide("E", 0.0, 1.0, min_loss=2.0)


def test_report_shows_unidentified_parameters_beside_their_numbers(tmp_path):
  n, d, loss = coverage.synthetic_grid(LAW, np.random.default_rng(0), NOISE, NARROW_N, DATA_SIZES)
  csv = tmp_path / "narrow.csv"
  pd.DataFrame({"N": n, "D": d, "loss": loss}).to_csv(csv, index=False)
  out = tmp_path / "report"
  assert report.main([f"--csv={csv}", f"--out={out}", "--bootstrap=100"]) == 0
  fit = json.loads((out / "fit.json").read_text())
  assert not fit["identifiability"]["alpha"]["identified"]
  assert fit["identifiability"]["alpha"]["summary"].startswith("N spans 1.0 decades")
  assert "alpha" in fit["identifiability"]["not_identified"]["frontier"]
  assert len(fit["law_samples"]["values"]) == 100 and fit["law_samples"]["names"][3] == "alpha"
  text = (out / "report.md").read_text()
  alpha_row = next(line for line in text.splitlines() if line.startswith("| alpha |"))
  assert alpha_row.endswith("| **no** (alpha) |")
  assert "**Not identified:** these allocations rest on" in text
  assert f"- **alpha**: {fit['identifiability']['alpha']['summary']}" in text


def test_within_noise_fraction_interpolates_the_crossings():
  """Half a step either side of a single point under the noise: 1/12 of a 13-point scan, however
  close the neighbours sit to the threshold (counting whole steps gives 0 or 2/12)."""
  rise = np.full(13, 3.0)
  rise[6] = 0.0
  rise[5] = rise[7] = 2.0
  assert identifiability._within_noise_fraction(rise) == pytest.approx(1 / 12)
  assert identifiability._within_noise_fraction(np.zeros(13)) == 1.0
  assert identifiability._within_noise_fraction(np.full(13, 1.5)) == 0.0
