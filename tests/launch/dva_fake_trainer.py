"""Stands in for `python -m usjax.main` in the run-dependency tests: fails unless the run named by
train.init_from has finished (its results.json exists) when this one starts, and records what it
was given."""
import json
import os
import sys
import time

from absl import app
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "run directory")


def main(argv):
    del argv
    config, workdir = _CONFIG.value, _WORKDIR.value
    os.makedirs(workdir, exist_ok=True)
    source = config.train.init_from
    if source and not os.path.isfile(os.path.join(source, "results.json")):
        print(f"dva fake trainer: {source} has no results.json yet", flush=True)
        sys.exit(4)
    if config.fake.fail:
        print("dva fake trainer: failing as configured", flush=True)
        sys.exit(1)
    results = dict(n_params_non_embedding=1000, n_params_total=1200, n_params_trainable=1200,
                   train_exams=config.data.train_exams, tokens_seen=1, flops=1.0,
                   final_val_loss=1.0, best_val_loss=1.0, metrics={"init_from": source},
                   wall_time_s=0.1, steps=1, config_hash="x", config=config.to_dict(),
                   tags=config.tags.to_dict(), finished=time.time())
    tmp = os.path.join(workdir, ".results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f)
    os.replace(tmp, os.path.join(workdir, "results.json"))


if __name__ == "__main__":
    app.run(main)
