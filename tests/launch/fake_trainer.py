"""Stands in for `python -m usjax.main` in launch tests: same flags (absl + ml_collections
config_flags, so override and tag formatting is parsed exactly as the real trainer parses it),
writes a results.json with the contract's keys, fails or crashes once when the config says so."""
import json
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", lock_config=True)  # as usjax.main
_WORKDIR = flags.DEFINE_string("workdir", None, "run directory")


def main(argv):
    del argv
    config, workdir = _CONFIG.value, _WORKDIR.value
    os.makedirs(workdir, exist_ok=True)
    marker = os.path.join(workdir, "checkpoint")
    resumed = os.path.exists(marker)
    if config.fake.fail:
        print("fake trainer: failing as configured", flush=True)
        sys.exit(1)
    if config.fake.crash_once and not resumed:
        open(marker, "w").close()
        print("fake trainer: crashed after a checkpoint", flush=True)
        sys.exit(3)
    tags = json.loads(config.tags) if isinstance(config.tags, str) else config.tags.to_dict()
    results = dict(n_params_non_embedding=1000, n_params_total=1200, n_params_trainable=1200,
                   train_exams=config.data.train_exams, tokens_seen=1, flops=1.0,
                   final_val_loss=1.0, best_val_loss=1.0, metrics={"resumed": resumed},
                   wall_time_s=0.1, steps=1, config_hash="x", config=config.to_dict(), tags=tags)
    tmp = os.path.join(workdir, ".results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f)
    os.replace(tmp, os.path.join(workdir, "results.json"))


if __name__ == "__main__":
    app.run(main)
