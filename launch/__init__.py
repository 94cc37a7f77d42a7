"""Sweeps of usjax runs: expand a grid (sweep.py), run it here (local.py) or on Cloud TPU slices
(tpu.py, gcloud.py), AOT-preflight it for a TPU topology (preflight.py). CLI: launch/run.py."""
