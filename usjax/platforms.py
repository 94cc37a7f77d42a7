"""Which JAX platform a process uses when its user has not chosen one (JAX_PLATFORMS unset).

jax[tpu] is installed everywhere because preflight needs libtpu's compiler. On a machine without
TPU chips JAX would still bring libtpu up at first use, and its start-up prints errors a user can
do nothing about ("unexpected worker hostname", "could not determine TPU accelerator type") before
falling back to the CPU. With no chip on the machine (JAX's own count, the one it uses to decide
whether it runs on a Cloud TPU VM), the process therefore asks for the CPU directly; on a TPU VM, or
when JAX_PLATFORMS says otherwise (e.g. JAX_PLATFORMS=cuda), nothing changes.
"""
import jax
from jax._src import hardware_utils  # jax's TPU-chip count; no public API exposes it


def use_cpu_without_tpu_chips() -> None:
    """Call before the first JAX computation (backends are created then, once per process)."""
    if jax.config.jax_platforms:
        return
    chips, _ = hardware_utils.num_available_tpu_chips_and_device_id()
    if chips == 0:
        jax.config.update("jax_platforms", "cpu")
