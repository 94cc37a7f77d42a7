"""Approach 3's exponents beside the other ways to read the same grid, and where they disagree.

- a, b (N_opt ~ C^a, D_opt ~ C^b): the joint law's against approach 2's (analysis/isoflop.py); they
  disagree when their bootstrap intervals do not overlap.
- alpha, beta: the joint law's against the one-axis laws' (L(N) per data size, L(D) per model
  size, each with its parametric-bootstrap interval, analysis/one_axis.py); they disagree when the
  intervals do not overlap.
- `drift`: when the one-axis exponent at the smallest and at the largest value of the other axis
  have disjoint intervals, the dependence on one axis changes with the other, which no additive
  law represents (e.g. larger models more sample-efficient: alpha falls as D grows).
- The one-axis laws' constant is not E: L(D) at a fixed N levels off at E + A/N^alpha (and L(N) at
  E + B/D^beta), so `plateaus` sets each beside the joint law's value of that sum; reading a
  one-axis constant as E is what made a report look as if it contradicted itself.
"""
import numpy as np

from analysis import joint_law
from analysis.one_axis import EXPONENT_NAME

CROSS_AXIS = {"D": "N", "N": "D"}  # one-axis law along D is fitted per N and vice versa


def _overlap(first: dict, second: dict) -> bool | None:
  """None when either has no interval (no bootstrap, or every refit failed)."""
  bounds = [first["lo"], first["hi"], second["lo"], second["hi"]]
  if any(bound is None or not np.isfinite(bound) for bound in bounds):
    return None
  return first["lo"] <= second["hi"] and second["lo"] <= first["hi"]


def _row(quantity: str, approach: str, stat: dict, agrees) -> dict:
  return {"quantity": quantity, "approach": approach, "value": stat["value"], "lo": stat["lo"],
          "hi": stat["hi"], "agrees_with_approach_3": agrees}


def exponent_rows(summaries: dict, isoflop_fit: dict, one_axis_laws: dict) -> list[dict]:
  """One row per (quantity, approach); approach 3's own rows first."""
  rows = [_row(name, "approach 3 (joint law)", summaries[name], None)
          for name in ("a", "b", "alpha", "beta")]
  if "skipped" not in isoflop_fit:
    for name in ("a", "b"):
      rows.append(_row(name, "approach 2 (iso-FLOP parabolas)", isoflop_fit[name],
                       _overlap(summaries[name], isoflop_fit[name])))
  for axis, key in (("N", "loss_vs_N_per_D"), ("D", "loss_vs_D_per_N")):
    exponent, group = EXPONENT_NAME[axis], CROSS_AXIS[axis]
    joint = summaries[exponent]
    for law in one_axis_laws[key]:
      if "skipped" in law:
        continue
      own = {"value": law[exponent], "lo": law.get(f"{exponent}_lo"),
             "hi": law.get(f"{exponent}_hi")}
      rows.append(_row(exponent, f"one-axis L({axis}) at {group} = {law[group]:.3g}", own,
                       _overlap(joint, own)))
  return rows


def disagreements(rows: list[dict]) -> list[str]:
  """One line per cross-check outside approach 3's interval (or not overlapping it)."""
  joint = {row["quantity"]: row for row in rows if row["agrees_with_approach_3"] is None
           and row["approach"].startswith("approach 3")}
  lines = []
  for row in rows:
    if row["agrees_with_approach_3"] is False:
      own = f" [{row['lo']:.3g}, {row['hi']:.3g}]"
      ref = joint[row["quantity"]]
      lines.append(f"{row['quantity']}: {row['approach']} gives {row['value']:.3g}{own}, outside "
                   f"approach 3's [{ref['lo']:.3g}, {ref['hi']:.3g}]")
  return lines


def drift(one_axis_laws: dict) -> list[str]:
  """One line per exponent whose one-axis values at the two ends of the other axis disagree."""
  lines = []
  for axis, key in (("N", "loss_vs_N_per_D"), ("D", "loss_vs_D_per_N")):
    exponent, group = EXPONENT_NAME[axis], CROSS_AXIS[axis]
    fitted = sorted((law for law in one_axis_laws[key] if "skipped" not in law
                     and law.get(f"{exponent}_lo") is not None), key=lambda law: law[group])
    if len(fitted) < 2:
      continue
    first, last = fitted[0], fitted[-1]
    ends = [{"lo": law[f"{exponent}_lo"], "hi": law[f"{exponent}_hi"]} for law in (first, last)]
    if _overlap(*ends) is False:
      lines.append(f"{exponent} along {axis} moves from {first[exponent]:.3g} at {group} = "
                   f"{first[group]:.3g} to {last[exponent]:.3g} at {group} = {last[group]:.3g} "
                   f"(disjoint intervals): the dependence on {axis} changes with {group}, which "
                   "the additive law does not represent")
  return lines


def plateaus(fit: joint_law.JointFit, one_axis_laws: dict) -> dict:
  """{key: [joint law's E + A/N^alpha (or E + B/D^beta) per fitted group]} beside the one-axis
  laws' constants."""
  params = fit.params
  result = {}
  for key, group in (("loss_vs_D_per_N", "N"), ("loss_vs_N_per_D", "D")):
    term = ("A", "alpha") if group == "N" else ("B", "beta")
    result[key] = [None if "skipped" in law else
                   params["E"] + params[term[0]] / law[group]**params[term[1]]
                   for law in one_axis_laws[key]]
  return result
