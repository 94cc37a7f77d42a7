"""Run a stack of identical blocks (parameters with a leading layer axis) as one scanned loop.

Compile time does not grow with depth because the block is traced once (jax.lax.scan). The body is
wrapped in jax.checkpoint according to `remat` ("none", "full" or a jax.checkpoint_policies name).
`scan=False` fully unrolls the same loop (same parameter tree): XLA's cost analysis counts a while
loop's body once, so the FLOP check compiles unrolled.
"""
import jax
from flax import nnx


def remat_wrap(fn, remat: str):
    if remat == "none":
        return fn
    if remat == "full":
        return jax.checkpoint(fn, prevent_cse=False)
    policy = getattr(jax.checkpoint_policies, remat, None)
    if policy is None:
        raise ValueError(f"config.model.remat={remat!r} is unknown; use 'none', 'full' or a "
                         f"jax.checkpoint_policies name such as 'dots_saveable'")
    return jax.checkpoint(fn, policy=policy, prevent_cse=False)


def run_stack(stack: nnx.Module, body, carry, xs, *, remat: str = "none", scan: bool = True):
    """carry, ys = scan over layers of body(layer, carry, x_layer) -> (carry, y)."""
    graphdef, state = nnx.split(stack)

    def step(carry, inputs):
        layer_state, x_layer = inputs
        return body(nnx.merge(graphdef, layer_state), carry, x_layer)

    return jax.lax.scan(remat_wrap(step, remat), carry, (state, xs), unroll=1 if scan else True)
