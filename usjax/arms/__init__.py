"""Training arms: what model a run trains, with which loss, and how it is evaluated.

`config.arm` names a package `usjax/arms/<arm>/` (generative: the VLM, dense or MoE; contrastive;
heads). The training loop is the same for every arm and reaches an arm only through `get` and
`EvalContext` here, the way it would reach a plug-in. Pieces several arms use (ranking, likelihood
scoring, the label loss, the evaluation context) live in `usjax/arms/shared/`, which imports no arm.

The arm contract: the package's `__init__` provides
    INPUT_KEYS                      batch keys the model reads
    build_model(mcfg, config, rngs) the nnx model
    trainable_filters(config)       (trainable, frozen) nnx filters
    loss_sums(model, batch, config) (loss_sum, sums): sums["weight"] is the loss's denominator
                                    (summed over micro-batches); every other sum is logged as
                                    train/<key> = sum / weight; the optional sums["val_loss"] is
                                    what validation reports instead of loss_sum (the generative
                                    arm: the language model loss without the router's auxiliary
                                    loss), divided by the optional sums["val_weight"]
    flops_per_example(mcfg, config) analytic training FLOPs of one example at the padded shapes
    evaluate(model, ctx)            the shared table (EvalContext in, {metric: value} out):
                                    retrieval R@k and per-dimension classification
and may provide
    load_initial_params(state, config)  parameters the run starts from (the heads arm: a
                                        generative run's vision tower)
"""
import importlib
import types

from usjax.arms.shared.context import EvalContext

ARMS = ("generative", "contrastive", "heads")
CONTRACT = ("INPUT_KEYS", "build_model", "trainable_filters", "loss_sums", "flops_per_example",
            "evaluate")

__all__ = ["ARMS", "CONTRACT", "EvalContext", "get"]


def get(name: str) -> types.ModuleType:
    if name not in ARMS:
        raise ValueError(f"config.arm={name!r} is unknown; use one of {', '.join(ARMS)}")
    return importlib.import_module(f"usjax.arms.{name}")
