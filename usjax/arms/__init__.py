"""Training arms: what model a run trains, with which loss, and how it is evaluated.

`config.arm` names a module `usjax/arms/<arm>.py` that provides INPUT_KEYS, build_model,
trainable_filters, loss_sums, flops_per_example and evaluate (contract in each module's docstring
and in usjax/arms/generative.py, the default). The training loop is the same for every arm.
"""
import importlib
import types

ARMS = ("generative", "contrastive", "heads")


def get(name: str) -> types.ModuleType:
    if name not in ARMS:
        raise ValueError(f"config.arm={name!r} is unknown; use one of {', '.join(ARMS)}")
    return importlib.import_module(f"usjax.arms.{name}")
