"""How plan.md and next_sweep.py write a bootstrap summary {"value", "lo", "hi"} and its level."""
import math


def fmt(stat: dict, spec: str = ".4g") -> str:
  value = format(stat["value"], spec)
  if math.isnan(stat["lo"]) and math.isnan(stat["hi"]):  # no bootstrap refits
    return f"{value} (no interval)"
  return f"{value} [{format(stat['lo'], spec)}, {format(stat['hi'], spec)}]"


def level(plan: dict) -> str:
  return f"{100 * plan['level']:.3g}%"
