"""The joint law L(N, D) = E + A/N^alpha + B/D^beta: point fit plus bootstrap over runs."""
import dataclasses

import numpy as np

from analysis import bootstrap, lse_law

NAMES = ("E", "A", "B", "alpha", "beta")
WARM_STARTS = 8  # distinct local optima of the full fit each bootstrap refit starts from


def named(vector_P) -> dict:
  """(a, b, e, alpha, beta) -> {E, A, B, alpha, beta}; also works on [R, 5] stacks."""
  vector = np.asarray(vector_P, np.float64)
  a, b, e, alpha, beta = np.moveaxis(vector, -1, 0)
  return {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": alpha, "beta": beta}


def log_features(n, d) -> np.ndarray:
  return np.log(np.stack([np.asarray(n, np.float64), np.asarray(d, np.float64)], axis=1))


def predict(vector_P, n, d) -> np.ndarray:
  """Loss at (n, d) for one parameter vector."""
  return lse_law.predict(np.asarray(vector_P), np.stack([np.asarray(n, np.float64),
                                                          np.asarray(d, np.float64)], axis=1))


@dataclasses.dataclass(frozen=True)
class JointFit:
  vector: np.ndarray          # (a, b, e, alpha, beta) of the point fit
  objective: float
  local_optima: np.ndarray    # distinct converged points of the full fit, best first
  samples: np.ndarray         # [R, 5] bootstrap refits (R may be 0)
  sample_objectives: np.ndarray
  recipe: dict

  @property
  def params(self) -> dict:
    return {name: float(value) for name, value in named(self.vector).items()}

  def sample_params(self) -> dict:
    return named(self.samples) if len(self.samples) else {name: np.empty(0) for name in NAMES}

  def predict(self, n, d) -> np.ndarray:
    return predict(self.vector, n, d)

  def predict_samples(self, n, d) -> np.ndarray:
    """[R, points] bootstrap predictions (for bands and prediction intervals)."""
    return np.stack([predict(vector, n, d) for vector in self.samples]) if len(
        self.samples) else np.empty((0, len(np.atleast_1d(n))))


def _recipe(num_resamples, seed, warm_starts) -> dict:
  return lse_law.recipe(2).as_dict() | {
      "bootstrap_resamples": int(num_resamples), "bootstrap_seed": int(seed),
      "bootstrap_starts": f"the (up to) {warm_starts} best distinct local optima of the full fit",
      "law": "L(N, D) = E + A / N^alpha + B / D^beta, "
             "log L = LSE(a - alpha log N, b - beta log D, e)"}


def fit_many(n, d, loss_BN, *, num_resamples: int = bootstrap.DEFAULT_RESAMPLES, seed: int = 0,
             warm_starts: int = WARM_STARTS) -> list[JointFit]:
  """`fit` for B independent loss vectors on the same (n, d) points, run together (data set b
  bootstraps with seed + b)."""
  log_x = log_features(n, d)
  log_y_BN = np.log(np.atleast_2d(np.asarray(loss_BN, np.float64)))
  fulls = lse_law.fit_many(log_x, log_y_BN)
  num_sets, num_points = log_y_BN.shape
  samples_BRP = np.empty((num_sets, 0, 5))
  objectives_BR = np.empty((num_sets, 0))
  if num_resamples:
    counts_BRN = np.stack([bootstrap.resample_counts(num_points, num_resamples, seed + b)
                           for b in range(num_sets)])
    # Sets run together need the same number of starts: pad by repeating a set's best optimum.
    count = max(min(warm_starts, len(full.local_optima)) for full in fulls)
    warm_BKP = np.stack([np.concatenate([full.local_optima[:count]] + [
        full.local_optima[:1]] * max(0, count - len(full.local_optima))) for full in fulls])
    params_RP, objective_R = lse_law.fit_resamples(
        log_x, np.repeat(log_y_BN, num_resamples, axis=0), counts_BRN.reshape(-1, num_points),
        np.repeat(warm_BKP, num_resamples, axis=0))
    samples_BRP = params_RP.reshape(num_sets, num_resamples, 5)
    objectives_BR = objective_R.reshape(num_sets, num_resamples)
  recipe = _recipe(num_resamples, seed, warm_starts)
  return [JointFit(full.params, full.objective, full.local_optima, samples_BRP[b],
                   objectives_BR[b], recipe) for b, full in enumerate(fulls)]


def fit(n, d, loss, *, num_resamples: int = bootstrap.DEFAULT_RESAMPLES, seed: int = 0,
        warm_starts: int = WARM_STARTS) -> JointFit:
  """Global fit on every run, then `num_resamples` bootstrap refits (runs drawn with replacement).

  Each refit starts from the `warm_starts` best distinct local optima of the full fit, so it can
  land in another basin when the resample favours one (benchmark_fit checks this against running
  the whole grid on resamples).
  """
  return fit_many(n, d, np.asarray(loss, np.float64)[None], num_resamples=num_resamples,
                  seed=seed, warm_starts=warm_starts)[0]
