"""The sweep report of a data-vs-architecture sweep (one model size, arms at matched compute):
no joint law, but the "Data vs architecture at matched compute" section with its table, verdict
and plots, from results.json files as the trainer writes them."""
import json

import numpy as np
import pytest

from analysis import report

SIZES = (77, 153, 306, 383, 536, 766)


def _write(root, name, arm, module, d, loss, accuracy, recall, n=3.6e5):
  run = root / name
  run.mkdir(parents=True)
  record = {"n_params_non_embedding": n, "n_params_total": 1.4e6, "train_exams": d,
            "tokens_seen": 132 * d * 6, "flops": 1e9 * d, "final_val_loss": loss,
            "best_val_loss": loss, "wall_time_s": 60.0, "steps": 10, "config_hash": "x",
            "config": {"arm": module},
            "metrics": {"val/loss": loss, "classify/mean_accuracy": accuracy,
                        "retrieval/image_to_report_R@10": recall},
            "tags": {"num_train_exams": d, "seed": 0, "arm": arm}}
  (run / "results.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
  root = tmp_path_factory.mktemp("dva_sweep")
  rng = np.random.default_rng(3)
  noise = lambda: float(np.exp(0.005 * rng.standard_normal()))
  def metrics(d):
    return (0.7 + 30 * d**-0.6) * noise(), (0.9 - 2 * d**-0.5) * noise(), \
        (0.6 - 3 * d**-0.5) * noise()
  for d in SIZES:
    for seed in (0, 1):
      _write(root, f"d{d}-seed{seed}-baseline", "baseline", "generative", d, *metrics(d))
  for d in (153, 306, 536):
    _write(root, f"d{d}-seed0-moe", "moe", "generative", d, *metrics(1.5 * d), n=5e5)
    loss, accuracy, recall = metrics(0.5 * d)
    _write(root, f"d{d}-seed0-contrastive", "contrastive", "contrastive", d, 5.0, accuracy, recall)
  out = tmp_path_factory.mktemp("dva_report")
  assert report.main([f"--sweep_dir={root}", f"--out={out}", "--bootstrap=200"]) == 0
  return out, json.loads((out / "fit.json").read_text())


def test_fit_json_has_the_table_and_no_joint_law(written):
  _, fit = written
  assert "only 1 distinct N" in fit["joint_law_skipped"] and "alpha" not in fit
  table = fit["data_vs_architecture"]["metrics"]
  assert set(table) == {"loss", "metric/classify/mean_accuracy",
                        "metric/retrieval/image_to_report_R@10"}
  assert [row["arm"] for row in table["loss"]["arms"]] == ["moe"]  # contrastive loss: other family
  moe = table["loss"]["arms"][0]["multiplier"]
  assert moe["lo_95"] <= 1.5 <= moe["hi_95"] and moe["value"] == pytest.approx(1.5, rel=0.15)
  contrastive = table["metric/classify/mean_accuracy"]["arms"][0]
  assert contrastive["arm"] == "contrastive" and contrastive["multiplier"]["hi_95"] < 1


def test_report_md_has_section_table_verdict_and_plots(written):
  out, fit = written
  text = (out / "report.md").read_text()
  assert "Joint law L(N, D) not fitted" in text
  assert "## Data vs architecture at matched compute" in text
  assert "| moe | 3 |" in text and "| contrastive | 3 |" in text
  # moe at 536 exams is worth 1.5 x 536 > 766 baseline exams: flagged as extrapolated.
  assert ("On validation loss, at matched compute: moe (extrapolated) is worth more than extra "
          "baseline data") in text
  assert "536 -> 1.49*" in text and "1 of 3 sizes beyond the baseline's range" in text
  assert "more baseline data beats contrastive" in text
  for stem in ("dva_curves", "dva_multipliers"):
    assert (out / f"{stem}.png").stat().st_size > 10_000 and (out / f"{stem}.svg").exists()
    assert f"({stem}.png)" in text
  assert not list(out.glob("*.tmp"))
