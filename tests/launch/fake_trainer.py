"""Stands in for `python -m usjax.main` in launch tests: same flags (absl + ml_collections
config_flags, so override and tag formatting is parsed exactly as the real trainer parses it),
writes a results.json with the contract's keys, fails or crashes once when the config says so."""
import json
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from tests.launch import fake_results

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
    fake_results.write(workdir, config, tags, {"resumed": resumed})

if __name__ == "__main__":
    app.run(main)
