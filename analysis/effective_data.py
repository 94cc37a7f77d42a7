"""A metric as a saturating power law of the data size, and its inverse: how much data it takes.

    m(D) = E + c D^-alpha        c > 0: the metric falls with D (losses); c < 0: it rises (R@k, accuracy)

This is analysis.metric_law's law (m = E + s A x^-alpha, least squares on the metric itself) with
x = D. It is fitted by variable projection: for a fixed exponent the law is linear in (E, c), so
every exponent of a fine log grid gets its exact weighted least-squares (E, c) in closed form, the
best exponent is refined by a parabola through its neighbours, and (E, c) are solved again there.
That is a global search over the one non-linear parameter, and it runs for a thousand bootstrap
weightings at once in milliseconds (tests check it against metric_law.fit).

The inverse, D_eff(m) = ((m - E) / c)^(-1/alpha), is the data size at which the law reaches m; it is
infinite when m lies beyond the law's limit E (no amount of data reaches it).
"""
import numpy as np
import scipy.stats

EXPONENT_GRID = np.geomspace(0.01, 4.0, 400)


def direction(d, metric) -> float:
  """+1 when the metric falls with D, -1 when it rises, 0 when it has no trend (rank correlation)."""
  rho = scipy.stats.spearmanr(d, metric).statistic
  return 0.0 if not np.isfinite(rho) or rho == 0 else (1.0 if rho < 0 else -1.0)


def _constrained_slope(s_w, s_x, s_xx, s_y, s_xy, sign):
  """Weighted least-squares slope of m = E + c x from the sums; c's sign is forced to `sign` (a
  fit that wants the other sign gets c = 0: the flat law)."""
  with np.errstate(divide="ignore", invalid="ignore"):
    determinant = s_w * s_xx - s_x**2
    slope = np.where(determinant > 0, (s_w * s_xy - s_x * s_y) / determinant, 0.0)
  return np.where(slope * sign > 0, slope, 0.0)


def _grid_sse(x_GN, centred_N, weight_RN, sign):
  """[R, G] weighted residual sum of squares of the best (E, c) for every exponent of the grid,
  from sufficient statistics (matrix products: no [R, G, N] array)."""
  s_w = weight_RN.sum(1)[:, None]
  s_y = (weight_RN @ centred_N)[:, None]
  s_yy = (weight_RN @ centred_N**2)[:, None]
  s_x, s_xx, s_xy = (weight_RN @ v.T for v in (x_GN, x_GN**2, x_GN * centred_N))
  slope = _constrained_slope(s_w, s_x, s_xx, s_y, s_xy, sign)
  limit = (s_y - slope * s_x) / s_w
  return (s_yy - 2 * limit * s_y - 2 * slope * s_xy + limit**2 * s_w + 2 * limit * slope * s_x
          + slope**2 * s_xx)


def _solve_rows(x_RN, metric_N, weight_RN, sign):
  """(E, c, sse) per row for that row's basis x_RN, residuals computed directly."""
  s_w, s_x, s_xx, s_y, s_xy = ((weight_RN * v).sum(1) for v in (
      1.0, x_RN, x_RN**2, np.broadcast_to(metric_N, x_RN.shape), x_RN * metric_N))
  slope = _constrained_slope(s_w, s_x, s_xx, s_y, s_xy, sign)
  limit = (s_y - slope * s_x) / s_w
  residual = metric_N - limit[:, None] - slope[:, None] * x_RN
  return limit, slope, (weight_RN * residual**2).sum(1)


def fit(d, metric, weight_RN=None, sign: float | None = None) -> dict:
  """{"E", "c", "alpha", "sse"} as [R] arrays (one per row of weight_RN; default: one unweighted
  fit) plus "sign". Rows whose weights cover fewer than 3 distinct D get NaN (too few sizes)."""
  d, metric = np.asarray(d, np.float64), np.asarray(metric, np.float64)
  weight_RN = np.ones((1, d.size)) if weight_RN is None else np.atleast_2d(
      np.asarray(weight_RN, np.float64))
  sign = direction(d, metric) if sign is None else sign
  log_d = np.log(d)
  x_GN = np.exp(-EXPONENT_GRID[:, None] * log_d[None])
  sse_RG = _grid_sse(x_GN, metric - metric.mean(), weight_RN, sign)
  best = np.argmin(sse_RG, axis=1)
  # A parabola through the best grid exponent and its neighbours (in log exponent).
  inner = np.clip(best, 1, len(EXPONENT_GRID) - 2)
  rows = np.arange(len(weight_RN))
  left, centre, right = (sse_RG[rows, inner + k] for k in (-1, 0, 1))
  curvature = left - 2 * centre + right
  with np.errstate(divide="ignore", invalid="ignore"):
    shift = np.where(curvature > 0, 0.5 * (left - right) / curvature, 0.0)
  log_step = np.log(EXPONENT_GRID[1] / EXPONENT_GRID[0])
  alpha = np.where(best == inner, np.exp(np.log(EXPONENT_GRID[inner]) + np.clip(shift, -1, 1) *
                                         log_step), EXPONENT_GRID[best])
  limit, slope, sse = _solve_rows(np.exp(-alpha[:, None] * log_d[None]), metric, weight_RN, sign)
  distinct = np.array([np.unique(d[row > 0]).size for row in weight_RN])
  bad = (distinct < 3) | (sign == 0)
  nan = lambda v: np.where(bad, np.nan, v)
  return {"E": nan(limit), "c": nan(slope), "alpha": nan(alpha), "sse": nan(sse), "sign": sign}


def predict(law: dict, d) -> np.ndarray:
  """[R, points] metric of each law at each D."""
  d = np.asarray(d, np.float64)
  return (np.atleast_1d(law["E"])[:, None] + np.atleast_1d(law["c"])[:, None] *
          d[None] ** -np.atleast_1d(law["alpha"])[:, None])


def data_for(law: dict, metric) -> np.ndarray:
  """[R, M] D_eff: the data size at which each of the R laws reaches each metric value (metric is
  [M], shared by the laws, or [R, M]); inf beyond the law's limit, NaN for a flat or failed law."""
  limit, slope, alpha = (np.atleast_1d(law[k])[:, None] for k in ("E", "c", "alpha"))
  metric = np.asarray(metric, np.float64)
  metric = metric.reshape(1, -1) if metric.ndim < 2 else metric
  with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    ratio = (metric - limit) / slope
    d_eff = np.where(ratio > 0, ratio ** (-1.0 / alpha), np.inf)
  return np.where((slope == 0) | ~np.isfinite(slope) | ~np.isfinite(alpha) | np.isnan(metric),
                  np.nan, d_eff)
