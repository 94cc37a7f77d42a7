"""Notice of preemption: Cloud TPU sends SIGTERM shortly before it reclaims a spot VM.

Single process: our own SIGTERM handler sets a flag the loop polls once per step. Several
processes: every host must save at the *same* step, so we ask JAX's preemption sync service
(started by `jax.distributed.initialize`, which installs its own SIGTERM notifier) through Orbax's
`reached_preemption(step)`, which returns True on all hosts at one agreed step.
"""
import signal
import threading

from absl import logging
import jax
import orbax.checkpoint as ocp


class PreemptionWatcher:
    """`watcher.reached(step, mngr)` is True once the run has been told to stop."""

    def __init__(self):
        self._signalled = threading.Event()
        self._previous_handler = None
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        del signum, frame
        logging.warning("SIGTERM received: saving a checkpoint at the current step, then exiting")
        self._signalled.set()

    def reached(self, step: int, mngr: ocp.CheckpointManager) -> bool:
        if jax.process_count() > 1:
            return mngr.reached_preemption(step)
        return self._signalled.is_set()

    def close(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None
