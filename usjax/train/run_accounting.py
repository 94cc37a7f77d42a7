"""What a run has consumed (examples, tokens, FLOPs, time) and its throughput figures.

The counters are saved in every checkpoint (a small JSON item), so a resumed run reports the
totals of the whole run, not of its last attempt. FLOPs are analytic
(the arm's `flops_per_example`, at the padded shapes the compiled step computes), so C does not
depend on the hardware.
"""
import dataclasses
import time

import ml_collections

from usjax.train import mfu as mfu_lib


@dataclasses.dataclass
class Counters:
    """Saved with every checkpoint."""
    examples_seen: int = 0
    tokens_seen: int = 0  # prefix, image tokens of real views plus non-pad text tokens
    train_seconds: float = 0.0  # wall time of all attempts, each from its model set-up on
    val_losses: dict = dataclasses.field(default_factory=dict)  # str(step) -> validation loss


class RunAccounting:
    def __init__(self, config: ml_collections.ConfigDict, setup, num_devices: int):
        """setup: usjax.train.model_setup.Setup (its arm counts the FLOPs)."""
        d = config.data
        self.tokens_per_view = setup.mcfg.tokens_per_view(d.image_size)
        self.prefix_tokens = setup.mcfg.prefix_tokens  # per exam (imported checkpoints' chat header)
        self.flops_per_example = setup.arm.flops_per_example(setup.mcfg, config)
        self.batch_size = d.batch_size
        self.num_devices = num_devices
        self.counters = Counters()
        self._attempt_start = time.time()
        self._seconds_before = 0.0
        self._window = (time.perf_counter(), 0, 0)  # (start, examples, tokens) of the rate window
        self._peak = None
        self._measure_peak = config.train.log_mfu

    def restore(self, counters: dict) -> None:
        self.counters = Counters(**counters)
        self._seconds_before = self.counters.train_seconds
        self._window = (time.perf_counter(), self.counters.examples_seen,
                        self.counters.tokens_seen)

    def snapshot(self) -> dict:
        self.counters.train_seconds = self._seconds_before + time.time() - self._attempt_start
        return dataclasses.asdict(self.counters)

    def add_val_loss(self, step: int, loss: float) -> None:
        self.counters.val_losses[str(step)] = loss

    def add_step(self, metrics: dict) -> None:
        """Counts one optimizer step from its (global, replicated) metrics."""
        self.counters.examples_seen += self.batch_size
        self.counters.tokens_seen += (int(metrics["real_views"]) * self.tokens_per_view + int(
            metrics["text_tokens"]) + self.batch_size * self.prefix_tokens)

    @property
    def flops(self) -> float:
        return self.flops_per_example * self.counters.examples_seen

    def rates(self) -> dict[str, float]:
        """Throughput since the previous call: examples/s, tokens/s, TFLOP/s and MFU."""
        start, examples, tokens = self._window
        now = time.perf_counter()
        seconds = max(now - start, 1e-9)
        self._window = (now, self.counters.examples_seen, self.counters.tokens_seen)
        new_examples = self.counters.examples_seen - examples
        flops_per_s = self.flops_per_example * new_examples / seconds
        rates = {"perf/examples_per_s": new_examples / seconds,
                 "perf/tokens_per_s": (self.counters.tokens_seen - tokens) / seconds,
                 "perf/tflops_per_s": flops_per_s / 1e12}
        if self._measure_peak:
            if self._peak is None:
                self._peak = mfu_lib.peak_flops_per_device()
                # the measurement took time that is not training time
                self._window = (time.perf_counter(), *self._window[1:])
            rates["perf/mfu"] = mfu_lib.mfu(self.flops_per_example * new_examples, seconds,
                                            self.num_devices, self._peak.flops_per_s)
        return rates
