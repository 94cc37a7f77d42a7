"""Saturating power laws L = E + sum_k A_k / X_k^alpha_k fitted in log space (Chinchilla approach 3,
as corrected by Epoch AI, 2024).

log L is modelled as LSE(a_1 - alpha_1 log X_1, ..., a_K - alpha_K log X_K, e) with E = exp(e),
A_k = exp(a_k); the objective is the Huber loss (delta 1e-3) of the log residuals, **summed** over
points (the mean makes L-BFGS stop early), minimised in float64 by L-BFGS from a grid of starts.
The joint law is K=2 (X = N, D); the one-axis laws are K=1.

Parameter vectors are laid out `[a_1..a_K, e, alpha_1..alpha_K]` (for K=2: a, b, e, alpha, beta).

Search (why it is fast and still global): every grid start runs `SCREEN_ITERATIONS` L-BFGS
iterations together, the `REFINE_STARTS` lowest distinct points then run to convergence. The
bootstrap refits start from the distinct local optima the full fit found (the global one included);
`analysis.benchmark_fit` checks both against running every grid start to convergence.
The optimiser works on centred log sizes (an exact change of variables, for conditioning); the
objective and its exact gradient are numpy float64 (see value_and_grad_numpy) called from the
jit-compiled batched L-BFGS loop in analysis.lbfgs.
"""
import dataclasses
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from analysis import lbfgs

HUBER_DELTA = 1e-3
SCREEN_ITERATIONS = 15
REFINE_STARTS = 64
MAX_ITERATIONS = 500
FTOL = 1e-8  # relative decrease; scipy's L-BFGS-B default is ~2e-9 absolute (~2e-6 relative here)
ROWS_PER_RUN = 8192
ROW_BUCKETS = (64, 1024, ROWS_PER_RUN)
SEGMENT_ITERATIONS = 50
# The Chinchilla/Epoch grid: a, b in {0, 5, .., 25}, e in {-1, -.5, .., 1}, exponents in {0, .5, .., 2}.
COEFFICIENT_GRID = tuple(np.arange(0.0, 30.0, 5.0))
OFFSET_GRID = tuple(np.arange(-1.0, 1.5, 0.5))
EXPONENT_GRID = tuple(np.arange(0.0, 2.5, 0.5))


@dataclasses.dataclass(frozen=True)
class Recipe:
  """How a fit was made; reported next to every result."""
  loss: str = "Huber on log residuals, summed over runs"
  huber_delta: float = HUBER_DELTA
  optimizer: str = ("L-BFGS (optax two-loop direction, Armijo backtracking, exact gradients, "
                    "centred log sizes), float64")
  starts: str = ""
  screen_iterations: int = SCREEN_ITERATIONS
  refine_starts: int = REFINE_STARTS
  max_iterations: int = MAX_ITERATIONS
  ftol: float = FTOL

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


class LawFit(NamedTuple):
  params: np.ndarray         # [a_1..a_K, e, alpha_1..alpha_K]
  objective: float
  local_optima: np.ndarray   # distinct converged points, best first (warm starts for resamples)


def start_grid(num_axes: int) -> np.ndarray:
  """All combinations of the Chinchilla grid for `num_axes` axes: [starts, 2K+1]."""
  axes = [COEFFICIENT_GRID] * num_axes + [OFFSET_GRID] + [EXPONENT_GRID] * num_axes
  return np.array(list(itertools.product(*axes)), dtype=np.float64)


def recipe(num_axes: int) -> Recipe:
  return Recipe(starts=f"{len(start_grid(num_axes))} grid starts (Chinchilla/Epoch grid)")


def value_and_grad_numpy(x_SP, active_S, log_x_NK, log_y_SN, weight_SN):
  """Summed Huber objective and its exact gradient for the active rows (numpy, float64).

  numpy because XLA's float64 exp/log on CPU is several times slower than numpy's vectorised ones,
  and these transcendentals are the whole cost of a fit.
  """
  value_S = np.zeros(x_SP.shape[0])
  grad_SP = np.zeros_like(x_SP)
  rows = np.flatnonzero(np.asarray(active_S))
  if rows.size == 0:
    return value_S, grad_SP
  x_AP, weight_AN, log_y_AN = x_SP[rows], weight_SN[rows], log_y_SN[rows]
  num_axes = log_x_NK.shape[1]
  # One [A, N] array per LSE term (the K power laws, then the constant e): fewer temporaries than
  # a stacked [A, N, K+1] array, and this function is the whole cost of a fit.
  terms = [x_AP[:, k, None] - x_AP[:, num_axes + 1 + k, None] * log_x_NK[None, :, k]
           for k in range(num_axes)] + [np.broadcast_to(x_AP[:, num_axes, None], weight_AN.shape)]
  peak_AN = np.maximum.reduce(terms)  # shift before exp: no overflow however far a trial step goes
  softmax = [np.exp(t - peak_AN) for t in terms]
  total_AN = np.add.reduce(softmax)
  residual_AN = peak_AN + np.log(total_AN) - log_y_AN
  magnitude_AN = np.abs(residual_AN)
  quadratic_part_AN = np.minimum(magnitude_AN, HUBER_DELTA)
  huber_AN = 0.5 * quadratic_part_AN**2 + HUBER_DELTA * (magnitude_AN - quadratic_part_AN)
  value_S[rows] = np.einsum("an,an->a", weight_AN, huber_AN)
  # d loss / d log L, already divided by the softmax normaliser.
  slope_AN = weight_AN * np.clip(residual_AN, -HUBER_DELTA, HUBER_DELTA) / total_AN
  for k, term_weight_AN in enumerate(softmax):
    grad_SP[rows, k if k < num_axes else num_axes] = np.einsum("an,an->a", slope_AN,
                                                               term_weight_AN)
    if k < num_axes:
      grad_SP[rows, num_axes + 1 + k] = -np.einsum("an,an,n->a", slope_AN, term_weight_AN,
                                                   log_x_NK[:, k])
  return value_S, grad_SP


# The callback runs on an XLA thread where the caller's scoped `enable_x64` does not hold: JAX would
# cast float64 arrays crossing the boundary to float32 there. They cross as raw bytes instead.
def _float64_from_bytes(raw):
  return np.ascontiguousarray(raw).view(np.float64)[..., 0]


def _packed_value_and_grad(x_raw, active_S, log_x_raw, log_y_raw, weight_raw):
  # Rows (starts) x points: per-row targets let independent data sets share one run.
  value_S, grad_SP = value_and_grad_numpy(
      _float64_from_bytes(x_raw), active_S, _float64_from_bytes(log_x_raw),
      _float64_from_bytes(log_y_raw), _float64_from_bytes(weight_raw))
  return np.ascontiguousarray(np.concatenate([value_S[:, None], grad_SP], axis=1)).view(np.uint8)


def _value_and_grad_callback(x_SP, active_S, log_x_NK, log_y_SN, weight_SN):
  num_rows, num_params = x_SP.shape
  to_bytes = lambda v: jax.lax.bitcast_convert_type(v, jnp.uint8)
  packed_shape = jax.ShapeDtypeStruct((num_rows, (num_params + 1) * 8), jnp.uint8)
  packed = jax.pure_callback(_packed_value_and_grad, packed_shape, to_bytes(x_SP), active_S,
                             to_bytes(log_x_NK), to_bytes(log_y_SN), to_bytes(weight_SN))
  unpacked_SQ = jax.lax.bitcast_convert_type(packed.reshape(num_rows, num_params + 1, 8),
                                             jnp.float64)
  return unpacked_SQ[:, 0], unpacked_SQ[:, 1:]


def _objective(log_x_NK, log_y_SN, weight_SN):
  return lambda x_SP, active_S: _value_and_grad_callback(x_SP, active_S, log_x_NK, log_y_SN,
                                                         weight_SN)


@jax.jit
def _start(x0_SP, active0_S, log_x_NK, log_y_SN, weight_SN):
  return lbfgs.initial_state(_objective(log_x_NK, log_y_SN, weight_SN), x0_SP, active0_S)


@jax.jit
def _continue(state, log_x_NK, log_y_SN, weight_SN, num_iterations):
  return lbfgs.iterate(_objective(log_x_NK, log_y_SN, weight_SN), state, num_iterations,
                       ftol=FTOL)


def _bucket(size: int, sizes=None) -> int:
  """Rows (and points) are padded to a few fixed sizes so a handful of compiled loops serve every
  fit, bootstrap and test in a process (a compile costs seconds); padding is inactive and free."""
  if sizes is None:
    return max(16, 1 << (size - 1).bit_length())
  return next(bucket for bucket in sizes if bucket >= size)


def run_starts(x0_SP, log_x_NK, log_y_SN, weight_SN, max_iter=MAX_ITERATIONS):
  """L-BFGS from every row of x0_SP; row s fits targets log_y_SN[s] with point weights
  weight_SN[s] (both may be given as one [N] row for all). numpy in and out.

  Runs at most ROWS_PER_RUN rows at a time: the L-BFGS memory of every row is copied each
  iteration, so one huge run is slower than several that fit in cache.
  """
  num_rows, num_points = len(x0_SP), len(log_x_NK)
  # Centre the log sizes (a_k - alpha_k log X_k = [a_k - alpha_k m_k] - alpha_k [log X_k - m_k]):
  # the same optima, but without the near-collinearity of a_k and alpha_k (log X ~ 20) that makes
  # L-BFGS crawl along a valley and stop early.
  log_x_NK = np.asarray(log_x_NK, np.float64)
  centre_K = log_x_NK.mean(axis=0)
  log_x_NK = log_x_NK - centre_K
  x0_SP = _shift_coefficients(np.asarray(x0_SP, np.float64), -centre_K)
  log_y_SN = np.broadcast_to(np.asarray(log_y_SN, np.float64), (num_rows, num_points))
  weight_SN = np.broadcast_to(np.asarray(weight_SN, np.float64), (num_rows, num_points))
  # Points are padded too (weight 0: no value, no gradient), so sweeps of different sizes share
  # compiled loops.
  extra_points = _bucket(num_points) - num_points
  log_x_NK = np.pad(log_x_NK, ((0, extra_points), (0, 0)))
  log_y_SN = np.pad(log_y_SN, ((0, 0), (0, extra_points)))
  weight_SN = np.pad(weight_SN, ((0, 0), (0, extra_points)))
  pieces = [_run_chunk(x0_SP[start:start + ROWS_PER_RUN], log_x_NK,
                       log_y_SN[start:start + ROWS_PER_RUN], weight_SN[start:start + ROWS_PER_RUN],
                       max_iter) for start in range(0, num_rows, ROWS_PER_RUN)]
  x_SP, value_S, iterations_S = (np.concatenate(parts) for parts in zip(*pieces))
  return _shift_coefficients(x_SP, centre_K), value_S, iterations_S


def _shift_coefficients(x_SP, shift_K):
  """a_k -> a_k + alpha_k * shift_k: moves parameters between raw and centred log sizes."""
  num_axes = len(shift_K)
  shifted = x_SP.copy()
  shifted[:, :num_axes] += x_SP[:, num_axes + 1:] * shift_K
  return shifted


def _pad_rows(values, rows):
  values = np.asarray(values)
  return np.pad(values, [(0, rows - len(values))] + [(0, 0)] * (values.ndim - 1))


def _run_chunk(x0_SP, log_x_NK, log_y_SN, weight_SN, max_iter):
  """Runs SEGMENT_ITERATIONS at a time; between segments the finished rows are dropped and the
  rest re-padded to a smaller bucket, so stragglers do not keep every row in the loop."""
  num_rows = len(x0_SP)
  x_SP, value_S = x0_SP.copy(), np.full(num_rows, np.nan)
  iterations_S = np.zeros(num_rows, np.int32)
  live = np.arange(num_rows)  # original row of each row in the current state
  with jax.enable_x64(True):
    log_x = jnp.asarray(log_x_NK)

    def padded(values):
      return jnp.asarray(_pad_rows(values, _bucket(len(live), ROW_BUCKETS)))

    targets, weights = padded(log_y_SN), padded(weight_SN)
    state = _start(padded(x0_SP), padded(np.ones(num_rows, bool)), log_x, targets, weights)
    done = 0
    while True:
      segment = min(SEGMENT_ITERATIONS, max_iter - done)
      state = _continue(state, log_x, targets, weights, jnp.asarray(segment, jnp.int32))
      done += segment
      host = jax.tree.map(np.asarray, state)
      x_SP[live] = host.x_SP[:len(live)]
      value_S[live] = host.value_S[:len(live)]
      iterations_S[live] = host.iterations_S[:len(live)]
      still = np.flatnonzero(host.active_S[:len(live)])
      if still.size == 0 or done >= max_iter:
        return x_SP, value_S, iterations_S
      live = live[still]
      state = jax.tree.map(lambda leaf: padded(leaf[still]), host)
      targets, weights = padded(log_y_SN[live]), padded(weight_SN[live])


def distinct_best(x_SP, value_S, count, decimals=3):
  """The `count` lowest rows, dropping rows equal to a better one after rounding."""
  order = np.argsort(np.where(np.isfinite(value_S), value_S, np.inf), kind="stable")
  order = order[np.isfinite(value_S[order])]
  _, first = np.unique(np.round(x_SP[order], decimals), axis=0, return_index=True)
  return order[np.sort(first)][:count]


def _as_points(log_x_NK, num_points):
  return np.asarray(log_x_NK, np.float64).reshape(num_points, -1)


def fit_many(log_x_NK, log_y_BN, weight_BN=None) -> list[LawFit]:
  """Global fits of B independent data sets on the same points, run together.

  Every grid start runs SCREEN_ITERATIONS L-BFGS iterations; per data set the REFINE_STARTS lowest
  distinct points then run to convergence.
  """
  log_y_BN = np.atleast_2d(np.asarray(log_y_BN, np.float64))
  num_sets, num_points = log_y_BN.shape
  log_x_NK = _as_points(log_x_NK, num_points)
  weight_BN = np.ones_like(log_y_BN) if weight_BN is None else np.broadcast_to(
      np.asarray(weight_BN, np.float64), log_y_BN.shape)
  grid_GP = start_grid(log_x_NK.shape[1])
  num_starts = len(grid_GP)
  screened_SP, screened_S, _ = run_starts(
      np.tile(grid_GP, (num_sets, 1)), log_x_NK, np.repeat(log_y_BN, num_starts, axis=0),
      np.repeat(weight_BN, num_starts, axis=0), max_iter=SCREEN_ITERATIONS)
  chosen = [b * num_starts + distinct_best(screened_SP[b * num_starts:(b + 1) * num_starts],
                                           screened_S[b * num_starts:(b + 1) * num_starts],
                                           REFINE_STARTS) for b in range(num_sets)]
  set_of_row = np.concatenate([np.full(len(rows), b) for b, rows in enumerate(chosen)])
  chosen = np.concatenate(chosen)
  refined_SP, refined_S, _ = run_starts(screened_SP[chosen], log_x_NK, log_y_BN[set_of_row],
                                        weight_BN[set_of_row])
  fits = []
  for b in range(num_sets):
    mine = np.flatnonzero(set_of_row == b)
    optima = mine[distinct_best(refined_SP[mine], refined_S[mine], REFINE_STARTS)]
    fits.append(LawFit(refined_SP[optima[0]], float(refined_S[optima[0]]), refined_SP[optima]))
  return fits


def fit(log_x_NK, log_y_N, weight_N=None) -> LawFit:
  """Global fit of one data set (see fit_many)."""
  return fit_many(log_x_NK, np.asarray(log_y_N)[None],
                  None if weight_N is None else np.asarray(weight_N)[None])[0]


def fit_exhaustive(log_x_NK, log_y_N, weight_N=None) -> LawFit:
  """Every grid start run to convergence: the reference the pruned search is checked against."""
  log_x_NK = _as_points(log_x_NK, len(log_y_N))
  weight_N = np.ones(len(log_y_N)) if weight_N is None else np.asarray(weight_N, np.float64)
  starts_SP = start_grid(log_x_NK.shape[1])
  x_SP, value_S, _ = run_starts(starts_SP, log_x_NK, log_y_N, weight_N)
  optima = distinct_best(x_SP, value_S, len(starts_SP))
  return LawFit(x_SP[optima[0]], float(value_S[optima[0]]), x_SP[optima])


def fit_resamples(log_x_NK, log_y_RN, weight_RN, warm_starts_RKP) -> tuple[np.ndarray, np.ndarray]:
  """One refit per row of weight_RN (bootstrap counts), each from all K of its warm starts.

  log_y_RN may be one [N] row shared by every resample; warm_starts_RKP may be one [K, P] set.
  Returns (params_RP, objective_R): the best converged point per resample.
  """
  weight_RN = np.asarray(weight_RN, np.float64)
  num_resamples, num_points = weight_RN.shape
  log_x_NK = _as_points(log_x_NK, num_points)
  log_y_RN = np.broadcast_to(np.asarray(log_y_RN, np.float64), weight_RN.shape)
  warm = np.asarray(warm_starts_RKP, np.float64)
  warm = np.broadcast_to(warm, (num_resamples,) + warm.shape[-2:])
  num_starts = warm.shape[1]
  x_SP, value_S, _ = run_starts(warm.reshape(-1, warm.shape[-1]), log_x_NK,
                                np.repeat(log_y_RN, num_starts, axis=0),
                                np.repeat(weight_RN, num_starts, axis=0))
  value_RS = np.where(np.isfinite(value_S), value_S, np.inf).reshape(num_resamples, num_starts)
  best_R = np.argmin(value_RS, axis=1)
  params_RP = x_SP.reshape(num_resamples, num_starts, -1)[np.arange(num_resamples), best_R]
  return params_RP, value_RS[np.arange(num_resamples), best_R]


def evaluate(params_SP, log_x_NK, log_y_N, weight_N=None) -> np.ndarray:
  """Objective of each parameter row on the given points."""
  log_x_NK = np.asarray(log_x_NK, np.float64).reshape(len(log_y_N), -1)
  weight_N = np.ones(len(log_y_N)) if weight_N is None else weight_N
  params_SP = np.asarray(params_SP, np.float64)
  weights = np.broadcast_to(weight_N, (len(params_SP), len(weight_N)))
  targets = np.broadcast_to(np.asarray(log_y_N, np.float64), weights.shape)
  return value_and_grad_numpy(params_SP, np.ones(len(params_SP), bool), log_x_NK, targets,
                              weights)[0]


def predict(params_P, x_NK) -> np.ndarray:
  """L at the given raw (not log) points; numpy, float64."""
  log_x_NK = np.log(np.asarray(x_NK, np.float64)).reshape(-1, (len(params_P) - 1) // 2)
  num_axes = log_x_NK.shape[1]
  terms = np.concatenate([params_P[:num_axes] - params_P[num_axes + 1:] * log_x_NK,
                          np.full((len(log_x_NK), 1), params_P[num_axes])], axis=1)
  peak = terms.max(axis=1, keepdims=True)
  return np.exp(peak[:, 0]) * np.exp(terms - peak).sum(axis=1)
