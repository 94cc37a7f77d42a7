"""Model FLOPs utilisation (MFU): achieved FLOP/s divided by the devices' peak FLOP/s.

MaxText convention (DESIGN.md, "MFU accounting"): the numerator is the analytic training FLOPs of a
step over its wall time; the denominator is the peak of the devices that ran it. On TPU the peak is
the published dense bf16 figure per JAX device (TPU-FACTS.md section 3; on megacore generations one
device is one chip, on TPU7x one device is one of the chip's two TensorCores). A CPU has no
published peak, so there the denominator is a large-matmul rate measured in the same process.
"""
import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

# Dense bf16 FLOP/s per JAX device, keyed by the exact `device_kind` string JAX reports.
# Exact keys, never prefixes: "TPU v5" (v5p) is a prefix of "TPU v5 lite" (v5e).
TPU_PEAK_FLOPS_PER_DEVICE = {
    "TPU v4": 275e12,  # megacore: 1 device = 1 chip
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5": 459e12,  # v5p, megacore
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
    "TPU v6e": 918e12,
    "TPU7x": 2307e12 / 2,  # 2 TensorCores per chip, each its own JAX device
}


@dataclasses.dataclass(frozen=True)
class Peak:
    """Peak FLOP/s of one device and where the figure came from (a table row or a measurement)."""
    flops_per_s: float
    source: str


def tpu_peak_flops(device_kind: str) -> float:
    """Table peak for one TPU device; an unknown kind is an error, never a guess."""
    try:
        return TPU_PEAK_FLOPS_PER_DEVICE[device_kind]
    except KeyError:
        raise ValueError(
            f"no peak FLOP/s known for TPU device kind {device_kind!r}; add it to "
            f"usjax.train.mfu.TPU_PEAK_FLOPS_PER_DEVICE (known: {sorted(TPU_PEAK_FLOPS_PER_DEVICE)})"
        ) from None


def time_matmul_flops_per_s(dtype: str = "float32", size: int = 2048, seconds: float = 2.0) -> float:
    """Best large-matmul rate per local device, measured now.

    Every local device multiplies its own size x size pair at once, so fake CPU devices sharing the
    same cores report their share of the machine, and one device reports all of it. The best of
    repeats (at least 3, for `seconds` in all) is the least disturbed by other load.
    """
    devices = jax.local_devices()
    mesh = jax.sharding.Mesh(np.array(devices), ("d",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("d"))
    keys = jax.random.split(jax.random.key(0), 2)
    shape = (len(devices), size, size)
    a_DNN, b_DNN = (jax.device_put(jax.random.normal(k, shape, dtype), sharding) for k in keys)
    matmul = jax.jit(lambda a, b: jnp.einsum("dij,djk->dik", a, b), out_shardings=sharding)
    matmul(a_DNN, b_DNN).block_until_ready()  # compile and warm up outside the timing
    best, deadline, repeats = float("inf"), time.perf_counter() + seconds, 0
    while repeats < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        matmul(a_DNN, b_DNN).block_until_ready()
        best, repeats = min(best, time.perf_counter() - start), repeats + 1
    return 2 * size**3 / best


@functools.lru_cache(maxsize=None)
def measured_matmul_flops_per_s(dtype: str = "float32", size: int = 2048, seconds: float = 2.0) -> float:
    """`time_matmul_flops_per_s`, measured once per process and argument set (a run's MFU
    denominator must not change from one log line to the next)."""
    return time_matmul_flops_per_s(dtype, size, seconds)


def peak_flops_per_device(dtype: str = "float32", size: int = 2048, seconds: float = 2.0) -> Peak:
    """Table peak on TPU (bf16 figures, whatever `dtype`); on CPU the measured rate of a `dtype`
    matmul of side `size` (`seconds` of repeats)."""
    device = jax.local_devices()[0]
    if device.platform == "tpu":
        return Peak(tpu_peak_flops(device.device_kind), f"table: {device.device_kind} bf16 peak")
    if device.platform == "cpu":
        rate = measured_matmul_flops_per_s(dtype, size, seconds)
        return Peak(rate, f"measured: {dtype} matmul on {jax.local_device_count()} local CPU device(s)")
    raise ValueError(f"no peak FLOP/s source for platform {device.platform!r} ({device.device_kind}); "
                     "MFU is defined here for TPU (table) and CPU (measured)")


def mfu(flops_per_step: float, step_seconds: float, num_devices: int, peak: float) -> float:
    """Fraction of the devices' combined peak that one step's analytic FLOPs achieved."""
    if step_seconds <= 0 or num_devices <= 0 or peak <= 0:
        raise ValueError(f"mfu needs positive step_seconds, num_devices and peak; got "
                         f"{step_seconds}, {num_devices}, {peak}")
    return flops_per_step / step_seconds / (num_devices * peak)
