"""Fitting machinery: recovery of known laws, the pruned search against the exhaustive grid,
frontier formulas, one-axis and metric laws, and no global float64 switch."""
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from analysis import coverage, frontier, joint_law, lse_law, metric_law, one_axis

LAW = coverage.TRUE_LAW


@pytest.fixture(scope="module")
def noisy_grid():
  n, d = (g.ravel() for g in np.meshgrid(np.logspace(6, 8.5, 5), np.logspace(3, 5.5, 5),
                                        indexing="ij"))
  clean = LAW["E"] + LAW["A"] / n**LAW["alpha"] + LAW["B"] / d**LAW["beta"]
  return n, d, clean * np.exp(0.002 * np.random.default_rng(3).standard_normal(n.shape))


def test_recovers_known_law(noisy_grid):
  fit = joint_law.fit(*noisy_grid, num_resamples=0)
  params = fit.params
  assert params["alpha"] == pytest.approx(LAW["alpha"], abs=0.02)
  assert params["beta"] == pytest.approx(LAW["beta"], abs=0.02)
  assert params["E"] == pytest.approx(LAW["E"], rel=0.03)
  n, d, loss = noisy_grid
  np.testing.assert_allclose(fit.predict(n, d), loss, rtol=0.01)


def test_pruned_search_matches_exhaustive_grid(noisy_grid):
  n, d, loss = noisy_grid
  log_x, log_y = joint_law.log_features(n, d), np.log(loss)
  pruned = lse_law.fit(log_x, log_y)
  exhaustive = lse_law.fit_exhaustive(log_x, log_y)
  assert pruned.objective <= exhaustive.objective * (1 + 1e-6)
  np.testing.assert_allclose(pruned.params, exhaustive.params, atol=2e-3)


def test_objective_gradient_is_exact():
  rng = np.random.default_rng(0)
  log_x = rng.uniform(10, 20, size=(30, 2))
  log_y = rng.uniform(0.5, 1.5, size=30)
  x = np.array([6.0, 5.0, 0.5, 0.4, 0.3])
  value = lambda p: lse_law.evaluate(p[None], log_x, log_y)[0]
  _, grad = lse_law.value_and_grad_numpy(x[None], np.ones(1, bool), log_x, log_y[None],
                                         np.ones((1, 30)))
  np.testing.assert_allclose(grad[0], scipy.optimize.approx_fprime(x, value, 1e-7), rtol=1e-4,
                             atol=1e-7)


def test_fit_leaves_jax_in_float32(noisy_grid):
  joint_law.fit(*noisy_grid, num_resamples=2)
  assert jnp.zeros(1).dtype == jnp.float32


def test_bootstrap_is_deterministic_given_seed(noisy_grid):
  first = joint_law.fit(*noisy_grid, num_resamples=20, seed=5)
  second = joint_law.fit(*noisy_grid, num_resamples=20, seed=5)
  np.testing.assert_array_equal(first.samples, second.samples)
  assert first.samples.shape == (20, 5)


def test_frontier_matches_numerical_minimum():
  budget, k = 1e20, 6.0
  best_log_n = scipy.optimize.minimize_scalar(
      lambda log_n: LAW["A"] / np.exp(log_n)**LAW["alpha"] +
      LAW["B"] / (budget / (k * np.exp(log_n)))**LAW["beta"], bounds=(0, 60), method="bounded").x
  assert np.log(frontier.optimal_n(LAW, budget, k)) == pytest.approx(best_log_n, abs=1e-3)
  n_opt, d_opt = frontier.optimal_n(LAW, budget, k), frontier.optimal_d(LAW, budget, k)
  assert k * n_opt * d_opt == pytest.approx(budget, rel=1e-9)
  assert frontier.d_per_parameter(LAW, budget, k) == pytest.approx(d_opt / n_opt)


def test_one_axis_laws_recover_exponents():
  n, d = (g.ravel() for g in np.meshgrid([1e6, 1e7], np.logspace(3, 5, 6), indexing="ij"))
  loss = LAW["E"] + LAW["A"] / n**LAW["alpha"] + LAW["B"] / d**LAW["beta"]
  import pandas as pd
  table = pd.DataFrame({"N": n, "D": d, "loss": loss})
  laws = one_axis.fit_per_group(table, "N", "D")
  assert [law["N"] for law in laws] == [1e6, 1e7]
  for law in laws:
    assert law["beta"] == pytest.approx(LAW["beta"], abs=0.01)
    assert law["E"] == pytest.approx(LAW["E"] + LAW["A"] / law["N"]**LAW["alpha"], rel=0.01)
  skipped = one_axis.fit_per_group(table, "D", "N")
  assert all("only 2 distinct N" in law["skipped"] for law in skipped)


def test_metric_law_rising_metric():
  compute = np.logspace(15, 19, 8)
  bleu = 40.0 - 3e3 * compute**-0.25
  law = metric_law.fit(compute, bleu)
  assert law["direction"] == "rises with compute"
  assert law["alpha"] == pytest.approx(0.25, abs=0.01)
  assert law["E"] == pytest.approx(40.0, abs=0.5)
  np.testing.assert_allclose(metric_law.predict(law, compute), bleu, atol=0.05)
  assert "skipped" in metric_law.fit(compute[:3], bleu[:3])
