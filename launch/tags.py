"""How a run's sweep tags reach the trainer, which stores them in results.json under `tags`.

The trainer's config is locked (no new keys from flags), so a sweep file declares the tag fields
in its get_config, typed from its own grid:

    def get_config(arg=None):
        return tags.declare(base.get_config(arg), get_sweep())

and each run then gets one `--config.tags.<key>=<value>` flag per tag. A config whose `tags` is a
string field gets the tags as one JSON object instead; a config without `tags` gets no tag flags.
"""
import json
from typing import Callable

import ml_collections

from launch import sweep as sweep_lib


def declare(config: ml_collections.ConfigDict, grid: dict) -> ml_collections.ConfigDict:
    """Adds `config.tags` with one typed, unset field per tag the grid's runs carry."""
    runs = sweep_lib.expand(grid, "get_sweep()")
    fields = {}
    for run in runs:
        for key, value in run.tags:
            fields.setdefault(key, ml_collections.config_dict.placeholder(type(value)))
    config.tags = ml_collections.ConfigDict(fields)
    return config


def tag_flags_for(config, where: str) -> Callable[[sweep_lib.Run], list[str]] | None:
    """None when the config has no `tags` field (the caller says so once)."""
    if "tags" not in config.keys():
        return None
    if isinstance(config.tags, str):
        return lambda run: [f"--config.tags={json.dumps(dict(run.tags), sort_keys=True)}"]
    declared = set(config.tags.keys())

    def flags(run):
        missing = [k for k, _ in run.tags if k not in declared]
        if missing:
            raise sweep_lib.SweepError(
                f"{where}: config.tags has no field {missing[0]!r}; declare the tags with "
                "launch.tags.declare(config, get_sweep()) in get_config")
        return [f"--config.tags.{k}={sweep_lib.format_value(v)}" for k, v in run.tags]
    return flags
