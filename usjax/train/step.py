"""One optimizer step as a pure function of arrays, and its jit-compiled, sharded form.

Gradient accumulation is an explicit scan over micro-batches. Micro-batch m takes rows
m, m + M, m + 2M, ... of the global batch, so every micro-batch keeps the batch sharding over the
data axes (a contiguous split would put each micro-batch on a fraction of the devices). Each
micro-batch's mean loss and gradient are weighted by its number of target tokens, so the
accumulated gradient equals the full-batch gradient whatever M is.

Compute precision is the model's (`model.dtype`): parameters stay float32 master weights and the
model casts them to bfloat16 inside the differentiated function, so gradients and the AdamW
update are float32.
"""
import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
import optax

from usjax.train import optimizer as optimizer_lib
from usjax.train import state as state_lib
from usjax.train.loss import next_token_loss

Batch = dict[str, jax.Array]


def summed_loss(params: nnx.State, graphdef: nnx.GraphDef, state: state_lib.TrainState,
                batch: Batch, train: bool = True) -> tuple[jax.Array, tuple[dict, Any]]:
    """(sum of target-token losses, ({tokens: target tokens, hits: argmax-correct ones},
    model variables after the call)).

    The variables that are not parameters (e.g. adapter-dropout RNG counters) come back updated,
    so each step draws new dropout masks and a resumed run draws the same ones."""
    model = nnx.merge(graphdef, params, state.frozen, state.rest)
    if not train:
        model.eval()
    logits = model(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"])
    mean_loss, metrics = next_token_loss(logits.astype(jnp.float32), batch["tokens"],
                                         batch["loss_mask"])
    num_tokens = batch["loss_mask"].sum()
    sums = {"tokens": num_tokens, "hits": metrics["accuracy"] * num_tokens}
    return mean_loss * num_tokens, (sums, nnx.state(model, nnx.Not(nnx.Param)))


def _micro_batches(batch: Batch, micro_batches: int) -> Batch:
    """[B, ...] -> [M, B/M, ...] with micro-batch m = rows m, m+M, ... (keeps the data sharding)."""
    def split(x):
        return x.reshape(x.shape[0] // micro_batches, micro_batches, *x.shape[1:]).swapaxes(0, 1)
    return jax.tree.map(split, batch)


def accumulated_gradient(graphdef, state, batch, micro_batches):
    """(mean loss over all target tokens of the batch, token sums, its gradient, new rest)."""
    grad_fn = jax.value_and_grad(summed_loss, has_aux=True)
    if micro_batches == 1:
        (loss_sum, (sums, rest)), grads = grad_fn(state.params, graphdef, state, batch)
    else:
        def body(carry, micro):
            loss_sum, sums, grads, rest = carry
            (l, (s, rest)), g = grad_fn(state.params, graphdef, state.replace(rest=rest), micro)
            return (loss_sum + l, jax.tree.map(jnp.add, sums, s),
                    jax.tree.map(jnp.add, grads, g), rest), None

        zeros = jax.tree.map(jnp.zeros_like, state.params)
        zero_sums = {"tokens": jnp.zeros(()), "hits": jnp.zeros(())}
        (loss_sum, sums, grads, rest), _ = jax.lax.scan(
            body, (jnp.zeros(()), zero_sums, zeros, state.rest),
            _micro_batches(batch, micro_batches))
    denominator = jnp.maximum(sums["tokens"], 1.0)
    return (loss_sum / denominator, sums,
            jax.tree.map(lambda g: g / denominator, grads), rest)


def train_step(state: state_lib.TrainState, batch: Batch, *, graphdef: nnx.GraphDef,
               tx: optax.GradientTransformation, micro_batches: int, learning_rate
               ) -> tuple[state_lib.TrainState, dict[str, jax.Array]]:
    loss, sums, grads, rest = accumulated_gradient(graphdef, state, batch, micro_batches)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, "accuracy": sums["hits"] / jnp.maximum(sums["tokens"], 1.0),
               "grad_norm": optax.tree.norm(grads),
               "param_norm": optax.tree.norm(params), "target_tokens": sums["tokens"],
               "text_tokens": batch["text_mask"].sum(), "real_views": batch["image_mask"].sum(),
               "learning_rate": learning_rate(state.step),
               "skipped_steps": jnp.asarray(optimizer_lib.skipped_steps(opt_state), jnp.int32)}
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, rest=rest)
    return new_state, metrics


def jit_train_step(graphdef, tx, micro_batches, learning_rate, state_sharding, batch_sharding):
    """The compiled step: state in and out with its sharding (donated: updated in place),
    batch sharded over the data axes, metrics replicated."""
    step = functools.partial(train_step, graphdef=graphdef, tx=tx, micro_batches=micro_batches,
                             learning_rate=learning_rate)
    return jax.jit(step, in_shardings=(state_sharding, batch_sharding),
                   out_shardings=(state_sharding, None), donate_argnums=0)


def eval_step(state: state_lib.TrainState, batch: Batch, *, graphdef: nnx.GraphDef
              ) -> dict[str, jax.Array]:
    """Summed token loss and token count of a validation batch (summed over batches later)."""
    loss_sum, (sums, _) = summed_loss(state.params, graphdef, state, batch, train=False)
    return {"loss_sum": loss_sum, "target_tokens": sums["tokens"]}
