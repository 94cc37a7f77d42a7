"""A plain-text progress line for a sweep: done / running / failed / left and an ETA."""
import dataclasses
import time


@dataclasses.dataclass
class Progress:
    total: int
    parallel: int
    skipped: int = 0                      # had results.json before this launch
    done: int = 0                         # finished in this launch (+ skipped)
    failed: int = 0
    running: dict = dataclasses.field(default_factory=dict)   # name -> start time
    durations: list = dataclasses.field(default_factory=list)  # of runs finished in this launch

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed - len(self.running)

    def eta_seconds(self, now: float) -> float | None:
        """Mean duration so far x the work still ahead, spread over the parallel slots."""
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        ahead = self.left * mean + sum(max(mean - (now - t), 0.0) for t in self.running.values())
        return ahead / max(1, min(self.parallel, self.left + len(self.running)))

    def state(self) -> tuple:
        """What a reader waits to see change: counts and the runs in flight, not the clocks."""
        return self.done, self.failed, self.left, tuple(self.running)

    def line(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        eta = self.eta_seconds(now)
        names = ", ".join(f"{name} ({format_seconds(now - started)})"
                          for name, started in self.running.items())
        return (f"[{time.strftime('%H:%M:%S', time.localtime(now))}] done {self.done}/{self.total}"
                f" (skipped {self.skipped}) | running {len(self.running)}"
                f"{': ' + names if names else ''} | failed {self.failed} | left {self.left}"
                f" | ETA {format_seconds(eta) if eta is not None else '?'}")


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}h" if hours else "") + f"{rest // 60}m{rest % 60:02d}s"
