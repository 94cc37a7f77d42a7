"""XLA flags of the test processes: fake CPU devices, and a cheap backend optimisation level.

Tests compile many tiny programs that then run for microseconds, so LLVM's optimisation of the
compiled code costs far more than it saves (a 4-step MoE run: 88 s -> 65 s at level 0). The level
changes how fast the code runs, not what it computes; runs and benchmarks outside the tests keep
XLA's default.
"""
import os
import re

TEST_FLAGS = "--xla_backend_optimization_level=0"


def flags(devices: int, current: str) -> str:
    """`current` (an XLA_FLAGS value) with `devices` fake CPU devices and the test flags."""
    kept = re.sub(r"--xla_force_host_platform_device_count=\d+", "", current)
    kept = kept.replace(TEST_FLAGS, "")
    return " ".join(f"{kept} {TEST_FLAGS} --xla_force_host_platform_device_count={devices}".split())


def env_with_devices(devices: int, **extra: str) -> dict:
    """This process's environment for a subprocess with `devices` fake CPU devices."""
    return dict(os.environ, XLA_FLAGS=flags(devices, os.environ.get("XLA_FLAGS", "")), **extra)
