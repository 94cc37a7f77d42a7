"""When a run initialises jax.distributed: explicit flags, or a multi-host Cloud TPU slice."""
import pytest

from usjax.train import multihost


@pytest.mark.parametrize("hostnames, several", [
    ("10.0.0.1,10.0.0.2", True),
    ("10.0.0.1", False),
    ("", False),
    # what libtpu leaves in the variable when it finds no TPU metadata
    ("WARNING: could not determine TPU worker hostnames or IP addresses, please set env var", False),
])
def test_several_hosts_from_the_tpu_environment(monkeypatch, hostnames, several):
    monkeypatch.delenv("MEGASCALE_COORDINATOR_ADDRESS", raising=False)
    monkeypatch.setenv("TPU_WORKER_HOSTNAMES", hostnames)
    assert multihost.on_several_hosts() is several


def test_partial_flags_are_an_error():
    with pytest.raises(ValueError, match="--coordinator_address, --num_processes and --process_id"):
        multihost.initialize("127.0.0.1:1234", 2, None)


def test_single_host_does_not_initialize(monkeypatch):
    monkeypatch.delenv("TPU_WORKER_HOSTNAMES", raising=False)
    monkeypatch.delenv("MEGASCALE_COORDINATOR_ADDRESS", raising=False)
    assert multihost.initialize(None, None, None) is False
