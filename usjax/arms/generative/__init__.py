"""The default arm: the vision-language model (dense or mixture-of-experts) trained on next-token
prediction of reports, VQA answers and classification answers.

It provides the arm contract of usjax/arms/__init__.py.
"""
import dataclasses

import jax.numpy as jnp
from flax import nnx

from usjax.arms.shared import label_loss, likelihood
from usjax.models import flops, vlm
from usjax.train import state as state_lib
from usjax.train.loss import per_example_weights, token_cross_entropy

INPUT_KEYS = ("images", "image_mask", "tokens", "loss_mask", "text_mask", "labels")


def build_model(mcfg, config, rngs: nnx.Rngs) -> vlm.VisionLanguageModel:
    model = vlm.VisionLanguageModel(mcfg, rngs=rngs)
    if config.train.label_loss_weight > 0:
        label_loss.attach(model, rngs)
    return model


def trainable_filters(config):
    return state_lib.trainable_filters(config.train.mode)


def loss_sums(model, batch, config):
    logits, aux = model.forward(batch["images"], batch["image_mask"], batch["tokens"],
                                batch["text_mask"], model.region(batch))
    ce, hits = token_cross_entropy(logits, batch["tokens"])
    mask = batch["loss_mask"].astype(jnp.float32)
    # train.loss_weighting: the objective averages over target tokens, or over rows (examples);
    # the validation loss is always per token
    weights = per_example_weights(mask) if config.train.loss_weighting == "example" else mask
    weight = weights.sum()
    lm_sum = (ce * weights).sum()
    sums = {"weight": weight, "hits": (hits * weights).sum(), "val_loss": (ce * mask).sum(),
            "val_weight": mask.sum()}
    if config.train.label_loss_weight > 0:  # the vision stage beside the language model
        label_ce = label_loss.label_loss(model, batch)
        lm_sum = lm_sum + config.train.label_loss_weight * label_ce * weight
        sums["label_loss"] = label_ce * weight
    if model.cfg.moe.experts == 0:
        return lm_sum, sums
    balance = aux["load_balance_loss"]
    sums["moe/load_balance_loss"] = balance * weight
    sums["moe/dropped_fraction"] = aux["dropped_tokens"] / jnp.maximum(
        aux["routed_tokens"], 1.0) * weight
    return lm_sum + model.cfg.moe.aux_loss_coef * balance * weight, sums


def flops_per_example(mcfg, config) -> float:
    d = config.data
    return float(flops.train_flops_per_example(dataclasses.replace(mcfg, image_size=d.image_size),
                                               d.text_len, d.max_images))


def evaluate(model, ctx) -> dict[str, float]:
    return likelihood.shared_table(model, ctx)
