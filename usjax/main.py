"""One usjax run: `python -m usjax.main --config=experiments/base.py[:args] --workdir=DIR`.

Run the same command on every host of a slice. Overrides: `--config.train.steps=100`.
Several local processes (tests, CPU clusters): add --coordinator_address=HOST:PORT
--num_processes=N --process_id=I.
"""
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from usjax import platforms
from usjax.train import multihost

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file (with :args)",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "where checkpoints, events and results.json go "
                               "(a local path or gs://)")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0, for "
                                   "several processes outside Cloud TPU")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "processes in the run")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "this process's index")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; configs are changed with "
                             f"--config.<key>=<value>")
    platforms.use_cpu_without_tpu_chips()
    multihost.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    from usjax.train import loop  # imports JAX-using modules only after distributed start-up

    from usjax.train.config_checks import ConfigError

    try:
        loop.run(_CONFIG.value, _WORKDIR.value)
    except ConfigError as e:  # one line, no traceback: the message says what to change
        sys.exit(f"config error: {e}")
    logging.info("run finished: %s", _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
