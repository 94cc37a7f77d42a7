"""L-BFGS run on many starting points at once, as one jit-compiled JAX loop.

Scaling-law fits start L-BFGS from thousands of points (the Chinchilla/Epoch grid) and the bootstrap
repeats that a thousand times. One scipy call per start spends its time in Python; here every start
is a row of one array and the direction is optax's L-BFGS two-loop recursion, vmapped over rows.

Each loop iteration costs exactly one objective evaluation: a row tries the step `t * p`; if the
Armijo condition holds it moves (and its step resets to 1), otherwise it stays and shrinks `t` for
the next iteration (backtracking spread over iterations, so one slow row does not make every row
evaluate again). Rows stop on their own (relative decrease below `ftol`, gradient below `gtol`, or a
step shorter than `min_step`) and are then frozen; the objective is told which rows are still active
so it can skip the rest. `iterate` runs a bounded number of iterations so the caller can drop
finished rows between calls (the slowest few rows then do not keep every row in the loop).

Call under `jax.enable_x64(True)` with float64 inputs: the fits need double precision.
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

ARMIJO_SLOPE = 1e-4  # sufficient-decrease constant (Nocedal & Wright's usual c1)
BACKTRACK_FACTOR = 0.25


class State(NamedTuple):
  """Per-row state of the batched minimisation; rows can be gathered/compacted between calls."""
  x_SP: jax.Array
  value_S: jax.Array
  grad_SP: jax.Array
  direction_state: optax.OptState  # optax L-BFGS memory, one row per start
  step_S: jax.Array       # step length the row tries next
  active_S: jax.Array     # False once converged (or padding)
  iterations_S: jax.Array  # accepted steps


def _direction(memory_size):
  return optax.scale_by_lbfgs(memory_size=memory_size)


def initial_state(value_and_grad_S: Callable, x0_SP, active0_S, memory_size: int = 10) -> State:
  """`value_and_grad_S(x_SP, active_S) -> (f_S, g_SP)`; rows where active_S is False are ignored
  (the objective may return anything there). Rows with active0_S False are never run."""
  f0_S, g0_SP = value_and_grad_S(x0_SP, active0_S)
  active_S = active0_S & jnp.isfinite(f0_S) & jnp.all(jnp.isfinite(g0_SP), axis=-1)
  return State(x0_SP, f0_S, g0_SP, jax.vmap(_direction(memory_size).init)(x0_SP),
               jnp.ones_like(f0_S), active_S, jnp.zeros(f0_S.shape, jnp.int32))


def iterate(value_and_grad_S: Callable, state: State, num_iterations, *, ftol: float = 1e-10,
            gtol: float = 1e-9, min_step: float = 1e-12, memory_size: int = 10) -> State:
  """Up to `num_iterations` iterations (stops early when no row is active). Traceable: jit it."""
  update_direction = jax.vmap(_direction(memory_size).update)

  def rows(mask_S, new, old):
    return jax.tree.map(
        lambda n, o: jnp.where(mask_S.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new, old)

  def step(carry):
    it, (x_SP, f_S, g_SP, direction_state, step_S, active_S, iters_S) = carry
    # A row whose last trial failed has unchanged (x, g, state), so it gets the same direction.
    h_g_SP, new_direction_state = update_direction(g_SP, direction_state, x_SP)
    p_SP = -h_g_SP
    slope_S = jnp.sum(g_SP * p_SP, axis=-1)
    # Negative-curvature pairs (Huber kinks) can spoil the quasi-Newton direction: use steepest
    # descent for that row rather than stepping uphill.
    descent_S = slope_S < 0
    p_SP = jnp.where(descent_S[:, None], p_SP, -g_SP)
    slope_S = jnp.where(descent_S, slope_S, -jnp.sum(g_SP * g_SP, axis=-1))
    x_try_SP = x_SP + step_S[:, None] * p_SP
    f_try_S, g_try_SP = value_and_grad_S(x_try_SP, active_S)
    accept_S = active_S & jnp.isfinite(f_try_S) & jnp.all(jnp.isfinite(g_try_SP), axis=-1) & (
        f_try_S <= f_S + ARMIJO_SLOPE * step_S * slope_S)
    # A small decrease only means convergence on a full step: after backtracking it may just mean
    # the step was cut short (near-L1 Huber objectives do that far from the optimum).
    small_decrease_S = (step_S == 1.0) & (f_S - f_try_S <= ftol * jnp.abs(f_S))
    converged_S = accept_S & (small_decrease_S | (jnp.max(jnp.abs(g_try_SP), axis=-1) <= gtol))
    next_step_S = jnp.where(accept_S, 1.0, step_S * BACKTRACK_FACTOR)
    active_S = active_S & ~converged_S & (next_step_S >= min_step)
    return it + 1, State(rows(accept_S, x_try_SP, x_SP), rows(accept_S, f_try_S, f_S),
                         rows(accept_S, g_try_SP, g_SP),
                         rows(accept_S, new_direction_state, direction_state), next_step_S,
                         active_S, iters_S + accept_S)

  def not_done(carry):
    it, state = carry
    return (it < num_iterations) & jnp.any(state.active_S)

  return jax.lax.while_loop(not_done, step, (0, state))[1]
