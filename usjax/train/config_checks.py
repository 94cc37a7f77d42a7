"""Config errors caught before anything is built or compiled, each one line naming key and fix.

`validate(config, num_devices)` runs first in `usjax.main`; a run that would fail after minutes
of corpus building or compilation fails here in a second instead.
"""
import ml_collections

from usjax import defaults
from usjax.train import state as state_lib

# Top-level keys an experiment may add that base.py does not define (set by launch/ sweeps).
_FREE_SECTIONS = ("tags",)


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and what to change."""


def unknown_keys(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict,
                 prefix: str = "") -> list[str]:
    """Keys of `config` that `reference` (usjax/defaults.py) does not have."""
    unknown = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if key not in reference:
            if not (prefix == "" and key in _FREE_SECTIONS):
                unknown.append(name)
        elif isinstance(value, ml_collections.ConfigDict) and isinstance(
                reference[key], ml_collections.ConfigDict):
            unknown.extend(unknown_keys(value, reference[key], prefix=f"{name}."))
    return unknown


def check_known_keys(config: ml_collections.ConfigDict) -> None:
    reference = defaults.get_config()
    unknown = unknown_keys(config, reference)
    if unknown:
        first = unknown[0]
        section = first.rsplit(".", 1)[0] if "." in first else ""
        known = sorted((reference[section] if section else reference).keys())
        raise ConfigError(f"unknown config key {first!r} (not in usjax/defaults.py); "
                          f"fix its spelling or drop it; known keys{' of ' + section if section else ''}: "
                          f"{', '.join(known)}")


def _need(ok: bool, key: str, fix: str) -> None:
    if not ok:
        raise ConfigError(f"config.{key}: {fix}")


def check_train(config: ml_collections.ConfigDict) -> None:
    t = config.train
    _need(t.mode in state_lib.MODES, "train.mode", f"{t.mode!r} is unknown; use one of "
          f"{', '.join(state_lib.MODES)}")
    from_hf = bool(config.model.get("init_from_hf", ""))
    _need(t.mode == "scratch" or bool(t.init_from) or from_hf, "train.init_from",
          f"train.mode={t.mode} starts from trained parameters: set train.init_from to the "
          f"workdir of the run that made them (or model.init_from_hf to a Hugging Face checkpoint)")
    _need(not (from_hf and t.init_from), "train.init_from",
          "give one starting point: model.init_from_hf (a Hugging Face checkpoint) or train.init_from "
          "(a usjax run), not both")
    _need(not from_hf or t.mode in ("lora", "finetune"), "train.mode",
          f"model.init_from_hf starts from pretrained weights: use train.mode=lora or finetune, not {t.mode}")
    _need(t.mode != "lora" or config.model.get("lora", {}).get("rank", 0) > 0, "model.lora.rank",
          "train.mode=lora needs adapters: set model.lora.rank > 0 (e.g. 8)")
    _need(t.mode == "lora" or config.model.get("lora", {}).get("rank", 0) == 0, "model.lora.rank",
          f"adapters are only trained with train.mode=lora; set it, or model.lora.rank=0")
    _need(t.steps > 0, "train.steps", f"must be positive, got {t.steps}")
    _need(t.micro_batches >= 1, "train.micro_batches", f"must be >= 1, got {t.micro_batches}")
    _need(t.on_nonfinite in ("stop", "skip"), "train.on_nonfinite",
          f"{t.on_nonfinite!r} is unknown; use stop or skip")
    _need(0 <= t.warmup_fraction < 1, "train.warmup_fraction", "must be in [0, 1)")
    _need(t.loss_weighting in ("token", "example"), "train.loss_weighting",
          f"{t.loss_weighting!r} is unknown; use token or example")
    _need(0 < config.data.augment_min_crop <= 1, "data.augment_min_crop",
          f"must be in (0, 1] (1: no crop), got {config.data.augment_min_crop}")
    _need(0 <= config.data.task_warmup_fraction < 1, "data.task_warmup_fraction",
          f"must be in [0, 1) (0: no task warm-up), got {config.data.task_warmup_fraction}")
    _need(config.checkpoint.every_steps > 0, "checkpoint.every_steps", "must be positive")
    _need(config.checkpoint.max_to_keep >= 1, "checkpoint.max_to_keep", "must be >= 1")
    _need(config.checkpoint.replica_parallel_min_slice_mib >= 0,
          "checkpoint.replica_parallel_min_slice_mib", "must be >= 0 (0: every replicated array "
          "is written by all its replicas)")
    _need(config.eval.every_steps > 0, "eval.every_steps", "must be positive")
    _need(config.eval.generate_exams >= 0, "eval.generate_exams", "must be >= 0 (0: no generation)")
    _need(config.eval.loss_batches >= 1, "eval.loss_batches", "must be >= 1")


def check_batch(config: ml_collections.ConfigDict, data_parallel: int, num_processes: int) -> None:
    """The global batch (data.batch_size) must split into micro-batches that split evenly over
    the data-parallel devices and over the processes that read them."""
    batch, micro = config.data.batch_size, config.train.micro_batches
    _need(batch % micro == 0, "data.batch_size",
          f"{batch} is not divisible by train.micro_batches={micro}; make it a multiple")
    _need(batch % num_processes == 0, "data.batch_size",
          f"{batch} is not divisible by the {num_processes} processes; make it a multiple")
    _need((batch // micro) % data_parallel == 0, "data.batch_size",
          f"micro-batches of {batch // micro} rows (data.batch_size / train.micro_batches) do not "
          f"divide over the {data_parallel} data-parallel devices of the mesh; make data.batch_size "
          f"a multiple of {data_parallel * micro}")
