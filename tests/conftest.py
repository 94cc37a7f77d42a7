"""Test set-up shared by every test: 8 fake CPU devices, before JAX starts.

XLA reads the flag once, when the CPU backend is first created, so it must be in the environment
before anything imports jax. Subprocesses the tests start inherit it.
"""
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # libtpu is installed for AOT; tests never use a TPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
