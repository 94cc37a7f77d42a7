"""Plain JSON for the files analysis writes (fit.json, plan.json): numpy scalars to Python, NaN to
null, infinities to the strings "inf"/"-inf" (strict JSON has neither)."""
import math

import numpy as np


def plain(value):
  if isinstance(value, dict):
    return {str(key): plain(inner) for key, inner in value.items()}
  if isinstance(value, (list, tuple)):
    return [plain(inner) for inner in value]
  if isinstance(value, (np.floating, float)):
    value = float(value)
    return value if math.isfinite(value) else (None if math.isnan(value) else
                                               ("inf" if value > 0 else "-inf"))
  if isinstance(value, np.integer):
    return int(value)
  return value
