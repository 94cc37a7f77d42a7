"""Does the grid identify each parameter of the joint law? Three tests per parameter:

- bound: its bootstrap interval reaches an edge of the region the law can live in: E at 0 (E is
  negligible next to the losses) or at the smallest loss (the power-law terms vanish), an exponent
  at 0 (its term turns into a constant that merges with E) or at the top of the start grid (2);
- flat profile: with the parameter held at each value of a wide scan and the others refitted, the
  objective rises by less than the noise (chi2_1(95%) x the objective per degree of freedom, the
  profile-likelihood rule for Gaussian residuals) over at least FLAT_FRACTION of the scan;
- trade-off: |Spearman correlation| of two parameters over the bootstrap above TRADE_OFF while the
  parameter's own interval is wide (an exponent's wider than WIDE_EXPONENT; E's, or the A or B
  term's, wider than WIDE_LOSS_FRACTION of the smallest loss: the three share the loss' units at
  the grid centre). Two narrow marginals that correlate are harmless: the valley the correlation
  describes is already inside both intervals. A and B are taken as the size of their term at the
  grid's geometric-mean N (D), A / N_c^alpha: raw A is the term at N = 1, far outside any grid,
  and moves with alpha on every grid, identified or not.

A parameter failing any test is "not identified"; its reasons are one line each, and the span of
N and D in decades goes with them (`summary_line`).
"""
import numpy as np
import scipy.optimize
import scipy.stats

from analysis import bootstrap, joint_law, lse_law

BOUND_TOLERANCE = 1e-3   # relative: an interval end this close to an edge touches it
EXPONENT_FLOOR = 0.01    # an exponent below this is at 0
TRADE_OFF = 0.9          # |bootstrap rank correlation| above this: the two parameters trade off
FLAT_FRACTION = 0.25     # flat: within the noise over this fraction of the scanned range
WIDE_EXPONENT = 0.25     # an exponent interval wider than this leaves the law's shape open
WIDE_LOSS_FRACTION = 0.25  # E, A-, B-term intervals wider than this x the smallest loss
SCAN_POINTS = 13
SCAN_SPREAD = 4.0
NOISE_QUANTILE = scipy.stats.chi2.ppf(0.95, 1)
VECTOR_INDEX = {"A": 0, "B": 1, "E": 2, "alpha": 3, "beta": 4}  # joint_law's (a, b, e, alpha, beta)
# A coefficient moves with its own exponent on every grid, identified or not (which point of the
# axis its term is pinned at depends on the noise): those pairs are not a trade-off.
OWN_EXPONENT = ({"A", "alpha"}, {"B", "beta"})
AXIS_OF = {"A": "N", "alpha": "N", "B": "D", "beta": "D"}


def decades(values) -> float:
  values = np.asarray(values, np.float64)
  return float(np.log10(values.max() / values.min()))


def _scan(name: str, value: float, min_loss: float):
  """Values the profile holds `name` at (A, B: their term at the grid centre), evenly spaced in
  the coordinate the width is measured in: E over (0, min loss) linearly, the others over a
  factor SCAN_SPREAD either side of the fit, in log."""
  if name == "E":
    return np.linspace(0.0, 1.0, SCAN_POINTS)[1:-1] * min_loss
  return value * np.geomspace(1 / SCAN_SPREAD, SCAN_SPREAD, SCAN_POINTS)


def _to_vector(name: str, value: float) -> float:
  return np.log(value) if name in ("E", "A", "B") else value


def centred(vectors_SP, log_x_NK) -> np.ndarray:
  """(a, b, e, alpha, beta) -> (log of the A term at N_c, of the B term at D_c, e, alpha, beta),
  N_c, D_c the grid's geometric means: the coordinates the tests use for A and B."""
  shifted = np.array(vectors_SP, np.float64)
  shifted[..., :2] -= shifted[..., 3:] * np.asarray(log_x_NK).mean(axis=0)
  return shifted


def profile(log_x_NK, log_y_N, vector_P, name: str, values, scale: float = 1.0) -> np.ndarray:
  """Objective minimised over the other four parameters with `name` held at each value (A and B
  as their term at the grid centre, see `centred`).

  scipy's L-BFGS-B on centred log sizes (as the fitter works), each scan point started from the
  best fit and from its neighbour nearer to it (the scan runs outward from the fitted value).
  `scale`: the objective is minimised divided by it, so scipy's tolerances are relative to it
  (pass the noise level).
  """
  centred_x = log_x_NK - log_x_NK.mean(axis=0)
  index = VECTOR_INDEX[name]
  free = [i for i in range(5) if i != index]
  start = centred(vector_P, log_x_NK)
  held_values = np.log(values) if name in ("E", "A", "B") else np.asarray(values, np.float64)
  weight_1N = np.ones((1, len(log_y_N)))

  def value_and_grad(z, held):
    x = np.insert(z, index, held)[None]
    value, grad = lse_law.value_and_grad_numpy(x, np.ones(1, bool), centred_x, log_y_N[None],
                                               weight_1N)
    return value[0] / scale, grad[0, free] / scale

  objectives = np.empty(len(held_values))
  solutions = {}
  for i in np.argsort(np.abs(held_values - start[index])):
    nearer = i - 1 if held_values[i] > start[index] else i + 1
    candidates = [start[free]] + ([solutions[nearer]] if nearer in solutions else [])
    best = min((scipy.optimize.minimize(value_and_grad, z0, args=(held_values[i],), jac=True,
                                        method="L-BFGS-B") for z0 in candidates),
               key=lambda result: result.fun)
    objectives[i], solutions[i] = best.fun * scale, best.x
  return objectives


def _within_noise_fraction(rise_in_noise) -> float:
  """Fraction of an evenly spaced scan over which the profile's rise stays below 1 (the noise),
  around its lowest point, with the crossings interpolated linearly between scan points: a count
  of whole steps jumps by 1/12 when one point moves across the threshold."""
  rise = np.asarray(rise_in_noise, np.float64)
  left = right = int(np.argmin(rise))
  if rise[left] >= 1.0:
    return 0.0
  while left > 0 and rise[left - 1] < 1.0:
    left -= 1
  while right < len(rise) - 1 and rise[right + 1] < 1.0:
    right += 1
  start = left - (0.0 if left == 0 else (1.0 - rise[left]) / (rise[left - 1] - rise[left]))
  end = right + (0.0 if right == len(rise) - 1 else
                 (1.0 - rise[right]) / (rise[right + 1] - rise[right]))
  return float((end - start) / (len(rise) - 1))


def _flat_reason(name, fit, log_x, log_y, threshold, min_loss):
  fitted = centred(fit.vector, log_x)[VECTOR_INDEX[name]]
  values = _scan(name, np.exp(fitted) if name in ("E", "A", "B") else fitted, min_loss)
  objectives = profile(log_x, log_y, fit.vector, name, values, scale=threshold)
  rise = objectives - fit.objective
  within = rise < threshold
  fraction = _within_noise_fraction(rise / threshold)
  entry = {"scan": [float(values[0]), float(values[-1])], "noise": float(threshold),
           "objective_rise": rise.tolist(), "within_noise_fraction": fraction}
  if fraction >= FLAT_FRACTION:
    held = name
    if name in AXIS_OF:
      axis = AXIS_OF[name]
      centre = np.exp(log_x[:, "ND".index(axis)].mean())
      held = f"the {name} term at {axis} = {centre:.3g}" if name in ("A", "B") else name
    entry["reason"] = (f"flat profile: the objective stays within the noise for {held} from "
                       f"{values[within].min():.3g} to {values[within].max():.3g}")
  return entry


def _bound_reasons(name, low, high, min_loss) -> list[str]:
  reasons = []
  if name == "E":
    if low <= BOUND_TOLERANCE * min_loss:
      reasons.append(f"E's interval reaches 0 (its low end {low:.2g} is negligible next to the "
                     f"smallest loss {min_loss:.3g})")
    if high >= (1 - BOUND_TOLERANCE) * min_loss:
      reasons.append(f"E's interval reaches the smallest loss {min_loss:.3g} (no power law left)")
  elif name in ("alpha", "beta"):
    if low <= EXPONENT_FLOOR:
      reasons.append(f"{name}'s interval reaches 0")
    if high >= (1 - BOUND_TOLERANCE) * lse_law.EXPONENT_GRID[-1]:
      reasons.append(f"{name}'s interval reaches {lse_law.EXPONENT_GRID[-1]:g}, the top of the "
                     "start grid")
  return reasons


def is_wide(name: str, low: float, high: float, min_loss: float) -> bool:
  """`low`, `high`: the interval, A and B as their term at the grid centre."""
  if not (np.isfinite(low) and np.isfinite(high)):
    return True
  width = WIDE_EXPONENT if name in ("alpha", "beta") else WIDE_LOSS_FRACTION * min_loss
  return high - low > width


def _centred_interval(name: str, fit: joint_law.JointFit, log_x, level) -> tuple[float, float]:
  """The bootstrap interval of E, alpha, beta, or of the A or B term at the grid centre."""
  if not len(fit.samples):
    return np.nan, np.nan
  column = centred(fit.samples, log_x)[:, VECTOR_INDEX[name]]
  values = column if name in ("alpha", "beta") else np.exp(column)
  return tuple(float(v) for v in bootstrap.interval(values, level))


def correlations(fit: joint_law.JointFit, log_x_NK) -> dict:
  """{(p, q): Spearman r} over the bootstrap, A and B at the grid centre (see the module doc)."""
  if len(fit.samples) < 3:
    return {}
  samples = np.asarray(fit.samples, np.float64)
  samples = samples[np.all(np.isfinite(samples), axis=1)]
  names = sorted(VECTOR_INDEX, key=VECTOR_INDEX.get)
  rank_r = scipy.stats.spearmanr(centred(samples, log_x_NK)).statistic
  return {(names[i], names[j]): float(rank_r[i, j]) for i in range(5) for j in range(i + 1, 5)
          if {names[i], names[j]} not in OWN_EXPONENT}


def assess(fit: joint_law.JointFit, n, d, loss, level: float = bootstrap.DEFAULT_LEVEL) -> dict:
  """{name: {identified, reasons, correlations, profile}} for E, A, B, alpha, beta, plus
  {"N_decades", "D_decades"}. Uses the fit's bootstrap samples (bound and trade-off tests need
  them) and refits along each parameter (the profile)."""
  log_x, log_y = joint_law.log_features(n, d), np.log(np.asarray(loss, np.float64))
  min_loss = float(np.min(loss))
  dof = max(len(log_y) - len(VECTOR_INDEX), 1)
  threshold = NOISE_QUANTILE * fit.objective / dof
  samples = fit.sample_params()
  pairs = correlations(fit, log_x)
  result = {"N_decades": decades(n), "D_decades": decades(d), "trade_off_threshold": TRADE_OFF,
            "noise": float(threshold)}
  for name in VECTOR_INDEX:
    low, high = bootstrap.interval(samples[name], level)
    reasons = _bound_reasons(name, low, high, min_loss) if len(fit.samples) else []
    flat = _flat_reason(name, fit, log_x, log_y, threshold, min_loss)
    reasons += [flat["reason"]] if "reason" in flat else []
    mine = {other: r for pair, r in pairs.items() for other in pair if name in pair and other != name}
    if is_wide(name, *_centred_interval(name, fit, log_x, level), min_loss):
      reasons += [f"{name} and {other} trade off, r = {r:+.2f}" for other, r in mine.items()
                  if abs(r) > TRADE_OFF]
    result[name] = {"identified": not reasons, "reasons": reasons, "correlations": mine,
                    "profile": {key: value for key, value in flat.items() if key != "reason"}}
  return result


def axes_of(name: str, assessment: dict) -> list[str]:
  """The axes a parameter's reason should name: its own, or for E those of its trade-off partners
  (both when it has none)."""
  if name in AXIS_OF:
    return [AXIS_OF[name]]
  partners = {AXIS_OF[other] for other, r in assessment[name]["correlations"].items()
              if abs(r) > TRADE_OFF and other in AXIS_OF}
  return sorted(partners) or ["N", "D"]


def summary_line(name: str, assessment: dict) -> str:
  """'' when identified, else e.g. 'N spans 1.0 decade; E and alpha trade off, r = -0.97'."""
  entry = assessment[name]
  if entry["identified"]:
    return ""
  spans = [f"{axis} spans {assessment[axis + '_decades']:.1f} decades" for axis in
           axes_of(name, assessment)]
  return "; ".join(spans + entry["reasons"])


def unidentified(assessment: dict, names) -> list[str]:
  return [name for name in names if not assessment[name]["identified"]]
