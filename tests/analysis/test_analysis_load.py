"""analysis.load: sweep directories and CSVs into one table; malformed input named clearly."""
import json

import numpy as np
import pandas as pd
import pytest

from analysis import load
from analysis.load import AnalysisInputError


def _results(n, d, loss, arm="baseline", **extra):
  return {"n_params_non_embedding": n, "n_params_total": n * 1.2, "n_params_trainable": n,
          "train_exams": d, "tokens_seen": d * 300, "flops": 6.0 * n * d * 300,
          "final_val_loss": loss, "best_val_loss": loss - 0.01,
          "metrics": {"bleu": 12.5, "baseline": {"bleu": 3.0}}, "wall_time_s": 10.0, "steps": 100,
          "config_hash": "abc", "config": {}, "tags": {"arm": arm, "preset": "s4", "exams": d},
          **extra}


def _write(path, record):
  path.mkdir(parents=True, exist_ok=True)
  (path / "results.json").write_text(json.dumps(record))


def test_sweep_loads_every_run_with_tags_and_metrics(tmp_path):
  _write(tmp_path / "s4" / "e500", _results(1e6, 500, 3.1))
  _write(tmp_path / "s8" / "deep" / "e1000", _results(4e6, 1000, 2.7, arm="moe"))
  table = load.load_sweep(tmp_path)
  assert table["run"].tolist() == ["s4/e500", "s8/deep/e1000"]
  assert table["N"].tolist() == [1e6, 4e6]
  assert table["D"].tolist() == [500, 1000]
  assert table["C"].iloc[0] == pytest.approx(6.0 * 1e6 * 500 * 300)
  assert table["loss"].tolist() == [3.1, 2.7]
  assert table["arm"].tolist() == ["baseline", "moe"]
  assert table["tag/preset"].tolist() == ["s4", "s4"]
  assert table["metric/bleu"].tolist() == [12.5, 12.5]
  assert table["metric/baseline/bleu"].tolist() == [3.0, 3.0]
  assert table["N_total"].iloc[1] == pytest.approx(4.8e6)


def test_malformed_json_names_the_file(tmp_path):
  _write(tmp_path / "good", _results(1e6, 500, 3.1))
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "results.json").write_text("{not json")
  with pytest.raises(AnalysisInputError, match=r"bad/results.json: not valid JSON"):
    load.load_sweep(tmp_path)


def test_missing_and_non_numeric_keys_are_named(tmp_path):
  record = _results(1e6, 500, 3.1)
  del record["train_exams"]
  _write(tmp_path / "r1", record)
  with pytest.raises(AnalysisInputError, match=r"r1/results.json: missing key\(s\) \['train_exams'\]"):
    load.load_sweep(tmp_path)
  _write(tmp_path / "r1", _results(1e6, 500, 3.0) | {"final_val_loss": "nan?"})
  with pytest.raises(AnalysisInputError, match=r"'final_val_loss' must be a finite number"):
    load.load_sweep(tmp_path)


def test_empty_sweep_is_an_error(tmp_path):
  with pytest.raises(AnalysisInputError, match="no results.json"):
    load.load_sweep(tmp_path)


def test_csv_with_and_without_arm(tmp_path):
  path = tmp_path / "grid.csv"
  pd.DataFrame({"N": [1e6, 2e6], "D": [100, 200], "loss": [3.0, 2.5]}).to_csv(path, index=False)
  table = load.load(path)
  assert table["arm"].tolist() == ["baseline", "baseline"]
  np.testing.assert_allclose(table["C"], 6 * table["N"] * table["D"])
  pd.DataFrame({"N": [1e6], "D": [100], "loss": [3.0], "arm": ["moe"]}).to_csv(path, index=False)
  assert load.load(path)["arm"].tolist() == ["moe"]


def test_csv_missing_column_is_named(tmp_path):
  path = tmp_path / "grid.csv"
  pd.DataFrame({"N": [1e6], "loss": [3.0]}).to_csv(path, index=False)
  with pytest.raises(AnalysisInputError, match=r"grid.csv: missing column\(s\) \['D'\]"):
    load.load(path)
