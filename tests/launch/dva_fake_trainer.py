"""Stands in for `python -m usjax.main` in the run-dependency tests: fails unless the run named by
train.init_from has finished (its results.json exists) when this one starts, and records what it
was given."""
import os
import sys
import time

from absl import app
from absl import flags
from ml_collections import config_flags

from tests.launch import fake_results

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
    fake_results.write(workdir, config, config.tags.to_dict(), {"init_from": source},
                       finished=time.time())

if __name__ == "__main__":
    app.run(main)
