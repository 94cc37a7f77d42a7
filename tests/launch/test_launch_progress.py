"""The progress line: counts and an ETA from the durations of runs finished so far."""
from launch.progress import Progress, format_seconds


def test_eta_spreads_the_work_left_over_the_parallel_slots():
    p = Progress(total=10, parallel=2, skipped=2, done=4, failed=1)
    assert p.eta_seconds(now=1000.0) is None  # nothing finished in this launch yet
    p.durations += [100.0, 300.0]              # mean 200 s
    p.running = {"a": 950.0, "b": 1000.0}      # 50 s and 0 s into their runs
    assert p.left == 3
    # 3 runs left x 200 s + what the running ones still need (150 + 200), over 2 slots
    assert p.eta_seconds(now=1000.0) == (3 * 200 + 150 + 200) / 2
    line = p.line(now=1000.0)
    assert "done 4/10 (skipped 2) | running 2: a (0m50s), b (0m00s) | failed 1 | left 3" in line
    assert line.endswith("| ETA 7m55s")


def test_format_seconds():
    assert format_seconds(59.6) == "1m00s" and format_seconds(3725) == "1h2m05s"
