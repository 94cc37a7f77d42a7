"""One optimizer step as a pure function of arrays, and its jit-compiled, sharded form.

Gradient accumulation is an explicit scan over micro-batches. Micro-batch m takes rows
m, m + M, m + 2M, ... of the global batch, so every micro-batch keeps the batch sharding over the
data axes (a contiguous split would put each micro-batch on a fraction of the devices). Each
micro-batch's loss is a sum over its share of the loss weight (target tokens for the language
model), so the accumulated gradient equals the full-batch gradient whatever M is (for losses that
decompose over rows; a contrastive loss sees its negatives within the micro-batch only).

The loss is the arm's (`usjax.arms`, `loss_sums` bound to the config), so every arm trains through
this one step.

Compute precision is the model's (`model.dtype`): parameters stay float32 master weights and the
model casts them to bfloat16 inside the differentiated function, so gradients and the AdamW
update are float32.
"""
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
import optax

from usjax.train import optimizer as optimizer_lib
from usjax.train import state as state_lib

Batch = dict[str, jax.Array]
# (model, batch) -> (loss sum, sums with "weight"): an arm's loss_sums with its config bound
LossFn = Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]


def summed_loss(params: nnx.State, graphdef: nnx.GraphDef, state: state_lib.TrainState,
                batch: Batch, loss_fn: LossFn, train: bool = True
                ) -> tuple[jax.Array, tuple[dict, Any]]:
    """(the arm's loss sum, (its sums, model variables after the call)).

    The variables that are not parameters (e.g. adapter-dropout RNG counters) come back updated,
    so each step draws new dropout masks and a resumed run draws the same ones."""
    model = nnx.merge(graphdef, params, state.frozen, state.rest)
    if not train:
        model.eval()
    loss_sum, sums = loss_fn(model, batch)
    return loss_sum, (sums, nnx.state(model, nnx.Not(nnx.Param)))


def _micro_batches(batch: Batch, micro_batches: int) -> Batch:
    """[B, ...] -> [M, B/M, ...] with micro-batch m = rows m, m+M, ... (keeps the data sharding)."""
    def split(x):
        return x.reshape(x.shape[0] // micro_batches, micro_batches, *x.shape[1:]).swapaxes(0, 1)
    return jax.tree.map(split, batch)


def accumulated_gradient(graphdef, state, batch, micro_batches, loss_fn):
    """(mean loss over the batch's loss weight, the summed sums, its gradient, new rest)."""
    grad_fn = jax.value_and_grad(summed_loss, has_aux=True)
    if micro_batches == 1:
        (loss_sum, (sums, rest)), grads = grad_fn(state.params, graphdef, state, batch, loss_fn)
    else:
        def body(carry, micro):
            loss_sum, sums, grads, rest = carry
            (l, (s, rest)), g = grad_fn(state.params, graphdef, state.replace(rest=rest), micro,
                                        loss_fn)
            return (loss_sum + l, jax.tree.map(jnp.add, sums, s),
                    jax.tree.map(jnp.add, grads, g), rest), None

        micro = _micro_batches(batch, micro_batches)
        zeros = jax.tree.map(jnp.zeros_like, state.params)
        sums_shape = jax.eval_shape(lambda: summed_loss(
            state.params, graphdef, state, jax.tree.map(lambda x: x[0], micro), loss_fn)[1][0])
        zero_sums = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), sums_shape)
        (loss_sum, sums, grads, rest), _ = jax.lax.scan(
            body, (jnp.zeros(()), zero_sums, zeros, state.rest), micro)
    denominator = jnp.maximum(sums["weight"], 1.0)
    return (loss_sum / denominator, sums,
            jax.tree.map(lambda g: g / denominator, grads), rest)


def _per_weight(sums: dict) -> dict:
    """Every sum but the weight as a per-weight mean; "hits" is reported as accuracy."""
    weight = jnp.maximum(sums["weight"], 1.0)
    return {("accuracy" if k == "hits" else k): v / weight
            for k, v in sums.items() if k not in ("weight", "val_loss", "val_weight")}


def train_step(state: state_lib.TrainState, batch: Batch, learning_rate: jax.Array, *,
               graphdef: nnx.GraphDef, tx: optax.GradientTransformation, micro_batches: int,
               loss_fn: LossFn) -> tuple[state_lib.TrainState, dict[str, jax.Array]]:
    """learning_rate: this update's rate (usjax.train.optimizer.learning_rate), a float32 scalar."""
    loss, sums, grads, rest = accumulated_gradient(graphdef, state, batch, micro_batches, loss_fn)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    updates = jax.tree.map(lambda u: -learning_rate * u, updates)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, **_per_weight(sums), "grad_norm": optax.tree.norm(grads),
               "param_norm": optax.tree.norm(params), "loss_weight": sums["weight"],
               # arms without text (task heads) read no text tokens
               "text_tokens": batch["text_mask"].sum() if "text_mask" in batch else jnp.zeros(()),
               "real_views": batch["image_mask"].sum(),
               "learning_rate": learning_rate,
               "skipped_steps": jnp.asarray(optimizer_lib.skipped_steps(opt_state), jnp.int32)}
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, rest=rest)
    return new_state, metrics


def jit_train_step(graphdef, tx, micro_batches, state_sharding, batch_sharding, loss_fn: LossFn):
    """The compiled step(state, batch, learning_rate): state in and out with its sharding
    (donated: updated in place), batch sharded over the data axes, metrics replicated."""
    step = functools.partial(train_step, graphdef=graphdef, tx=tx, micro_batches=micro_batches,
                             loss_fn=loss_fn)
    replicated = jax.sharding.NamedSharding(jax.tree.leaves(batch_sharding)[0].mesh,
                                            jax.sharding.PartitionSpec())
    return jax.jit(step, in_shardings=(state_sharding, batch_sharding, replicated),
                   out_shardings=(state_sharding, None), donate_argnums=0)


def eval_step(state: state_lib.TrainState, batch: Batch, *, graphdef: nnx.GraphDef,
              loss_fn: LossFn) -> dict[str, jax.Array]:
    """Summed validation loss and its weight for one batch (summed over batches later)."""
    loss_sum, (sums, _) = summed_loss(state.params, graphdef, state, batch, loss_fn, train=False)
    return {"loss_sum": sums.get("val_loss", loss_sum),
            "weight": sums.get("val_weight", sums["weight"])}
