"""AOT preflight: compile every run's real train step for a TPU topology on this CPU-only machine.

libtpu describes the target slice (`jax.experimental.topologies.get_topology_desc`) without any TPU
attached; the trainer's own step (`usjax.train.step.jit_train_step`) is lowered with abstract
(shape-only) state and batch, sharded on the config's mesh over those devices, and compiled by the
TPU compiler. Per run it reports the per-device memory XLA needs (argument + output + temp - alias,
as MaxText does) against the chip's HBM, XLA's estimated step time, and the MFU that time implies
with the analytic FLOPs of `usjax.models.flops`. A run that does not fit is refused with its numbers.
With `pick_slice`, each run is compiled on the generation's slices from the smallest up, and the
first that fits is named.
"""
import dataclasses
import hashlib
import os
import sys

# libtpu is loaded for its compiler only: never look for TPU chips, and let several compile-only
# processes coexist (libtpu otherwise holds a machine-wide lock file).
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.experimental import topologies  # noqa: E402

from launch import step_time  # noqa: E402
from launch import sweep as sweep_lib  # noqa: E402
from launch import tpu_types  # noqa: E402
from usjax.models import sharding  # noqa: E402
from usjax.train import config_checks, model_setup  # noqa: E402
from usjax.train import optimizer as optimizer_lib  # noqa: E402
from usjax.train import step as step_lib  # noqa: E402

GIB = 1024 ** 3


@dataclasses.dataclass(frozen=True)
class Estimate:
    tpu: tpu_types.TpuType
    bytes_per_device: float
    step_seconds: float      # XLA's estimate ("optimal_seconds") for one optimizer step
    flops_per_step: float    # analytic training FLOPs of one global batch
    error: str = ""          # the run cannot be compiled for this slice (e.g. mesh does not divide)

    @property
    def fits(self) -> bool:
        return not self.error and self.bytes_per_device <= self.tpu.generation.hbm_bytes_per_device

    @property
    def floor_seconds(self) -> float:
        """The step at the slice's peak FLOP rate: no estimate can be shorter."""
        return self.flops_per_step / (self.tpu.devices * self.tpu.generation.peak_flops_per_device)

    @property
    def mfu(self) -> float:
        return self.floor_seconds / self.step_seconds if self.step_seconds > 0 else 0.0

    @property
    def has_mfu(self) -> bool:
        """XLA gave a step time the slice's peak FLOP rate allows (see `line` for the others)."""
        return self.step_seconds > 0 and self.step_seconds >= self.floor_seconds

    def line(self) -> str:
        if "RESOURCE_EXHAUSTED" in self.error:  # the TPU compiler itself found it too big
            return f"{self.tpu.name}: does not fit: {self.error}"
        if self.error:
            return f"{self.tpu.name}: cannot compile: {self.error}"
        hbm = self.tpu.generation.hbm_bytes_per_device
        # XLA's cost model returns a negative time for some very large programs, and for others a
        # time below what the slice's peak FLOP rate allows: neither is an estimate of the step.
        if self.step_seconds <= 0:
            timing = "no step-time estimate from XLA"
        elif not self.has_mfu:
            timing = (f"est. step {self.step_seconds * 1e3:.3f} ms is below the peak-FLOP floor of "
                      f"{self.floor_seconds * 1e3:.3f} ms (XLA's cost model is optimistic here): no MFU estimate")
        else:
            timing = f"est. step {self.step_seconds * 1e3:.3f} ms, implied MFU {100 * self.mfu:.1f}%"
        return (f"{self.tpu.name}: {self.bytes_per_device / GIB:.3f} GiB/device of "
                f"{hbm / GIB:.1f} GiB HBM ({100 * self.bytes_per_device / hbm:.1f}%), "
                f"{self.flops_per_step / 1e12:.4f} TFLOP/step, {timing}")


# The step's learning-rate argument: only its shape and dtype matter to the compiler.
LEARNING_RATE = jax.ShapeDtypeStruct((), jnp.float32)


def run_config(base, run: sweep_lib.Run):
    """The config the trainer would see: a copy of the sweep's get_config(arg) plus the run's
    overrides."""
    return sweep_lib.apply_overrides(base.copy_and_resolve_references(), run.overrides)


def estimate(config, tpu: tpu_types.TpuType) -> Estimate:
    """Compiles the run's train step for `tpu`: its memory from the real (scanned) program, its
    step time from XLA's cost model extended to the real depth (launch/step_time.py)."""
    mcfg = model_setup.model_config_of(config, shapes_only=True)  # init_from_hf: config.json alone
    flops_per_step = config.data.batch_size * model_setup.arm_of(config).flops_per_example(
        mcfg, config)
    try:
        devices = topologies.get_topology_desc(**tpu.topology_kwargs()).devices
        # The trainer's own check, for a one-line message instead of a sharding error.
        mesh = sharding.make_mesh(config.mesh, devices=devices)
        config_checks.check_batch(config, model_setup.data_parallel_size(
            mesh, sharding.axis_rules(config.mesh)), num_processes=1)
        used, _ = _analyses(config, mcfg, devices)
        cost = step_time.extrapolated(config, mcfg, lambda c, m: _analyses(c, m, devices)[1])
    except (ValueError, TypeError, RuntimeError) as e:  # XlaRuntimeError is a RuntimeError
        return Estimate(tpu, 0.0, 0.0, flops_per_step, error=str(e).splitlines()[0][:300])
    return Estimate(tpu, used, cost.seconds, flops_per_step)


# (devices, program text) -> (bytes per device, cost): runs of a sweep that differ only in what the
# step does not see (data size, seed, learning rate) compile once.
_ANALYSES: dict = {}


def _analyses(config, mcfg, devices) -> tuple[float, step_time.Cost]:
    """Per-device bytes XLA needs (argument + output + temp - alias, as MaxText counts) and XLA's
    cost of one compiled step."""
    lowered = _lower(config, mcfg, devices)
    key = (tuple(str(d) for d in devices), hashlib.sha256(lowered.as_text().encode()).hexdigest())
    if key not in _ANALYSES:
        compiled = lowered.compile()
        memory = compiled.memory_analysis()
        used = (memory.argument_size_in_bytes + memory.output_size_in_bytes +
                memory.temp_size_in_bytes - memory.alias_size_in_bytes)
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        _ANALYSES[key] = (float(used), step_time.Cost(float(cost.get("optimal_seconds", 0.0)),
                                                      float(cost.get("flops", 0.0))))
    return _ANALYSES[key]


def _lower(config, mcfg, devices):
    """The trainer's jitted step for (config, mcfg), lowered with abstract state and batch on the
    config's mesh over `devices`."""
    mesh = sharding.make_mesh(config.mesh, devices=devices)
    rules = sharding.axis_rules(config.mesh)
    tx = optimizer_lib.create(config)
    arm = model_setup.arm_of(config)
    graphdef, state = model_setup.abstract_state(config, mcfg, tx)
    batch = model_setup.abstract_batch(config, arm.INPUT_KEYS)
    step = step_lib.jit_train_step(graphdef, tx, config.train.micro_batches,
                                   sharding.state_shardings(state, mesh, rules),
                                   sharding.batch_shardings(mesh, rules, arm.INPUT_KEYS),
                                   model_setup.loss_fn(config))
    with sharding.activation_context(mesh, rules):
        return step.lower(state, batch, LEARNING_RATE)


def main(sweep: sweep_lib.Sweep, tpu: tpu_types.TpuType, pick_slice: bool, out=None) -> int:
    """Prints one line per run; returns 1 if any run fits no candidate slice."""
    out = out or sys.stdout
    candidates = tpu_types.same_generation_sizes(tpu) if pick_slice else [tpu]
    refused = []
    print(f"preflight of {len(sweep.runs)} runs for "
          f"{'the smallest ' + tpu.generation.name + ' slice' if pick_slice else tpu.name}"
          f" (AOT compile with libtpu on this machine)", file=out, flush=True)
    fitting = {}
    base = sweep_lib.base_config(sweep)  # once: every run starts from the same file's config
    for run in sweep.runs:
        config = run_config(base, run)
        tried = []
        for candidate in candidates:
            tried.append(estimate(config, candidate))
            if tried[-1].fits:
                break
        verdict = "fits" if tried[-1].fits else "REFUSED"
        if tried[-1].fits:
            fitting[run.name] = tried[-1]
        else:
            refused.append(run.name)
        print(f"{run.name}: {verdict} {tried[-1].line()}", file=out, flush=True)
        for rejected in tried[:-1]:
            print(f"    rejected {rejected.line()}", file=out, flush=True)
    best = highest_mfu(fitting)
    if best and len(sweep.runs) > 1:
        print(f"highest implied MFU: {best} ({100 * fitting[best].mfu:.1f}% on "
              f"{fitting[best].tpu.name})", file=out, flush=True)
    if refused:
        print(f"{len(refused)} run(s) do not fit: {', '.join(refused)}", file=out, flush=True)
    return 1 if refused else 0


def highest_mfu(estimates: dict) -> str | None:
    """The run whose estimate implies the highest MFU; None when no estimate implies one (XLA gave
    no time, or a time below the FLOP floor)."""
    credible = [name for name, e in estimates.items() if e.has_mfu]
    return max(credible, key=lambda name: estimates[name].mfu) if credible else None
