"""A sweep's results as one pandas table: one row per run.

Sources: every `results.json` under a sweep directory (recursive; local or `gs://` through
etils.epath), or a CSV with columns N, D, loss and optionally arm (and C).

Columns of the table:
  run            run name: the results.json's directory relative to the sweep directory
  N, N_total     non-embedding / total parameters (N is the one the laws use)
  D              training exams (`train_exams`)
  tokens, C      tokens seen, analytic training FLOPs (`flops`)
  loss           final validation loss (the one the laws fit); best_val_loss also kept
  arm            the ablation arm (from tags["arm"]; "baseline" when a sweep sets no arm)
  arm_module     the model family that trained it (config["arm"], e.g. "generative"; "" when the
                 results.json has no config): losses of different families are not comparable
  tag/<name>     every variant tag;  metric/<name>  every eval metric (nested dicts joined by "/")
"""
import json
import math

import numpy as np
import pandas as pd
from etils import epath

DEFAULT_ARM = "baseline"
CSV_REQUIRED = ("N", "D", "loss")
RESULTS_REQUIRED = ("n_params_non_embedding", "train_exams", "flops", "final_val_loss")


class AnalysisInputError(ValueError):
  """Input that cannot be analysed; the message names the file or column and what to change."""


def _flatten(prefix: str, value, out: dict) -> None:
  if isinstance(value, dict):
    for key, inner in value.items():
      _flatten(f"{prefix}/{key}", inner, out)
  else:
    out[prefix] = value


def _number(path, record: dict, key: str) -> float:
  value = record.get(key)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    raise AnalysisInputError(f"{path}: key {key!r} must be a finite number, got {value!r}")
  return float(value)


def _optional_number(path, record: dict, key: str) -> float:
  """NaN when absent or null; an error when present but not a number."""
  value = record.get(key)
  if value is None:
    return math.nan
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise AnalysisInputError(f"{path}: key {key!r} must be a number or null, got {value!r}")
  return float(value)


def _run_row(path: epath.Path, sweep_dir: epath.Path) -> dict:
  try:
    record = json.loads(path.read_text())
  except json.JSONDecodeError as error:
    raise AnalysisInputError(f"{path}: not valid JSON ({error})") from error
  if not isinstance(record, dict):
    raise AnalysisInputError(f"{path}: expected a JSON object, got {type(record).__name__}")
  missing = [key for key in RESULTS_REQUIRED if key not in record]
  if missing:
    raise AnalysisInputError(f"{path}: missing key(s) {missing}; results.json must have "
                             f"{list(RESULTS_REQUIRED)}")
  tags = record.get("tags") or {}
  metrics = record.get("metrics") or {}
  if not isinstance(tags, dict) or not isinstance(metrics, dict):
    raise AnalysisInputError(f"{path}: 'tags' and 'metrics' must be JSON objects")
  config = record.get("config")
  row = {
      "run": str(path.parent.relative_to(sweep_dir)) if path.parent != sweep_dir else ".",
      "N": _number(path, record, "n_params_non_embedding"),
      "N_total": _optional_number(path, record, "n_params_total"),
      "D": _number(path, record, "train_exams"),
      "tokens": _optional_number(path, record, "tokens_seen"),
      "C": _number(path, record, "flops"),
      "loss": _number(path, record, "final_val_loss"),
      "best_val_loss": _optional_number(path, record, "best_val_loss"),
      "wall_time_s": _optional_number(path, record, "wall_time_s"),
      "steps": record.get("steps"),
      "config_hash": record.get("config_hash"),
      "arm": str(tags.get("arm", DEFAULT_ARM)),
      "arm_module": str(config.get("arm", "")) if isinstance(config, dict) else "",
  }
  for name, value in tags.items():
    row[f"tag/{name}"] = value
  flat_metrics: dict = {}
  for name, value in metrics.items():
    _flatten(f"metric/{name}", value, flat_metrics)
  row.update(flat_metrics)
  return row


def load_sweep(sweep_dir) -> pd.DataFrame:
  """Every results.json under sweep_dir (recursively) as one table, sorted by run name."""
  root = epath.Path(sweep_dir)
  if not root.is_dir():
    raise AnalysisInputError(f"{root}: sweep directory does not exist")
  # walk(), not glob("**"): epath refuses recursive globs (they would be one RPC per match on GCS).
  paths = sorted(directory / "results.json" for directory, _, files in root.walk()
                 if "results.json" in files)
  if not paths:
    raise AnalysisInputError(f"{root}: no results.json found (recursively); did the sweep finish?")
  return pd.DataFrame([_run_row(path, root) for path in paths]).sort_values(
      "run", ignore_index=True)


def load_csv(path) -> pd.DataFrame:
  """A CSV with columns N, D, loss (optional arm, C). C defaults to 6 N D (Chinchilla's count)."""
  path = epath.Path(path)
  try:
    with path.open() as handle:
      table = pd.read_csv(handle)
  except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
    raise AnalysisInputError(f"{path}: not a readable CSV ({error})") from error
  missing = [column for column in CSV_REQUIRED if column not in table.columns]
  if missing:
    raise AnalysisInputError(f"{path}: missing column(s) {missing}; the CSV needs columns "
                             f"N, D, loss (optional: arm, C); found {list(table.columns)}")
  for column in CSV_REQUIRED + (("C",) if "C" in table.columns else ()):
    if not pd.api.types.is_numeric_dtype(table[column]):
      raise AnalysisInputError(f"{path}: column {column!r} must be numeric")
    table[column] = table[column].astype(np.float64)
  if "C" not in table.columns:
    table["C"] = 6.0 * table["N"] * table["D"]
  table["arm"] = table["arm"].astype(str) if "arm" in table.columns else DEFAULT_ARM
  table["arm_module"] = ""  # a CSV's losses are taken as comparable across arms
  if "run" not in table.columns:
    table["run"] = [f"row{index + 2}" for index in range(len(table))]  # CSV line numbers
  return table


def load(source) -> pd.DataFrame:
  """A table from a sweep directory or a .csv file."""
  return load_csv(source) if str(source).endswith(".csv") else load_sweep(source)
