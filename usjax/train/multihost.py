"""Start-up of a run on several hosts (Cloud TPU pod slices, or several local processes).

On a TPU pod slice `jax.distributed.initialize()` needs no arguments: it reads the coordinator
and the process ids from the TPU metadata. Elsewhere (a test on localhost, a CPU cluster) the
flags give them. A single host never initialises the distributed runtime, so a laptop run does
not wait for a coordinator.
"""
import os

import jax


def on_several_hosts() -> bool:
    """What Cloud TPU VMs set when a slice has several hosts (or several slices)."""
    # libtpu, when it cannot find the metadata, writes a warning sentence into this variable:
    # only a comma-separated list of plain host names counts.
    hostnames = [h.strip() for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",")]
    real_hosts = all(h and " " not in h for h in hostnames) and len(hostnames) > 1
    return real_hosts or bool(os.environ.get("MEGASCALE_COORDINATOR_ADDRESS"))


def initialize(coordinator_address: str | None, num_processes: int | None,
               process_id: int | None) -> bool:
    """Initialises `jax.distributed` when flags or the environment ask for it; True if it did."""
    explicit = coordinator_address is not None or num_processes is not None
    if explicit:
        if coordinator_address is None or num_processes is None or process_id is None:
            raise ValueError("multi-host flags: give all of --coordinator_address, "
                             "--num_processes and --process_id, or none of them")
        # CPU devices of different processes talk through gloo (the default CPU client has no
        # cross-process collectives); the setting does not touch TPU or GPU clients.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
        return True
    if on_several_hosts():
        jax.distributed.initialize()
        return True
    return False
