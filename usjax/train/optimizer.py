"""The optimizer of a run: AdamW with linear warmup then cosine decay, global-norm clipping.

The learning rate is not inside the compiled step: `create` is AdamW up to the final scaling,
and the step multiplies by the schedule's value, which the loop computes on the host (the
schedule is built once per run and evaluated per step) and passes in. So the step's program does
not depend on train.steps or the schedule, and runs that differ only in those (a scaling grid's
data sizes) share one compilation through the persistent compilation cache.

With `train.on_nonfinite = "skip"` the whole update is wrapped in `optax.apply_if_finite`: a step
whose gradients are not finite leaves parameters and moments unchanged and is counted
(`skipped_steps` in the metrics). Weight decay applies to matrices only, not to biases, norm
scales or other vectors, as usual for transformers.
"""
import jax
import ml_collections
import optax

from usjax.data import tasks

# Effectively "never give up": a run that only produces non-finite steps is stopped by the loop
# (it names the step), not by optax quietly applying a NaN update.
_MAX_CONSECUTIVE_SKIPS = 1 << 30


def _warmup_cosine(train: ml_collections.ConfigDict, steps: int) -> optax.Schedule:
    warmup_steps = max(1, round(train.warmup_fraction * steps))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=train.learning_rate, warmup_steps=warmup_steps,
        decay_steps=max(steps, warmup_steps + 1),
        end_value=train.learning_rate * train.end_lr_fraction)


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """Warmup + cosine over the run; with a task warm-up (data.task_warmup_fraction > 0) and
    train.restart_schedule_after_task_warmup, one such cycle per phase: the task mixture that
    follows starts from a fresh warmup to the full peak rather than from a half-decayed rate
    (a single cycle let the report phase collapse to normal reports)."""
    train, switch = config.train, tasks.task_warmup_steps(config)
    if switch == 0 or not train.restart_schedule_after_task_warmup:
        return _warmup_cosine(train, train.steps)
    return optax.join_schedules([_warmup_cosine(train, switch),
                                 _warmup_cosine(train, train.steps - switch)], [switch])


def _is_matrix(params):
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def create(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    train = config.train
    tx = optax.chain(
        optax.clip_by_global_norm(train.grad_clip_norm),
        # optax.adamw without its last link, scale_by_learning_rate (train_step applies -lr)
        optax.scale_by_adam(b1=train.b1, b2=train.b2),
        optax.add_decayed_weights(train.weight_decay, mask=_is_matrix))
    if train.on_nonfinite == "skip":
        tx = optax.apply_if_finite(tx, max_consecutive_errors=_MAX_CONSECUTIVE_SKIPS)
    return tx


def skipped_steps(opt_state) -> jax.Array | int:
    """Steps skipped so far for non-finite gradients (0 when skipping is off)."""
    return getattr(opt_state, "total_notfinite", 0)
