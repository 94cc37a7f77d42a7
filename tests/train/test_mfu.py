"""MFU accounting: TPU peak table, measured CPU peak, and the MFU arithmetic."""
import jax
import pytest

from usjax.train import mfu


def test_tpu_table_gives_per_device_bf16_peaks():
    assert mfu.tpu_peak_flops("TPU v4") == 275e12
    assert mfu.tpu_peak_flops("TPU v5 lite") == 197e12
    assert mfu.tpu_peak_flops("TPU v5p") == 459e12
    assert mfu.tpu_peak_flops("TPU v5") == 459e12  # v5p's other name, not a prefix match of v5 lite
    assert mfu.tpu_peak_flops("TPU v6 lite") == 918e12
    assert mfu.tpu_peak_flops("TPU7x") == pytest.approx(1153.5e12)  # one TensorCore per device


def test_unknown_tpu_kind_is_an_error_naming_it():
    with pytest.raises(ValueError, match="TPU v99 mega"):
        mfu.tpu_peak_flops("TPU v99 mega")


def test_mfu_of_a_hand_computed_step():
    # 6e12 FLOPs in 2 s on 4 devices of 1e12 FLOP/s each: 3e12 FLOP/s of 4e12 -> 0.75.
    assert mfu.mfu(6e12, 2.0, 4, 1e12) == pytest.approx(0.75)


def test_mfu_rejects_a_zero_step_time():
    with pytest.raises(ValueError, match="step_seconds"):
        mfu.mfu(1e9, 0.0, 1, 1e12)


def test_measured_rate_is_positive_and_plausible():
    rate = mfu.measured_matmul_flops_per_s("float32", size=128, seconds=0.05)
    # Per fake device of a shared CPU: above 10 MFLOP/s, below 10 TFLOP/s for anything this decade.
    assert 1e7 < rate < 1e13
    assert mfu.measured_matmul_flops_per_s("float32", size=128, seconds=0.05) == rate  # cached


def test_cpu_peak_is_measured_and_says_so():
    assert jax.local_devices()[0].platform == "cpu"
    peak = mfu.peak_flops_per_device("float32", size=128, seconds=0.05)
    assert peak.source.startswith("measured")
    assert peak.flops_per_s == mfu.measured_matmul_flops_per_s("float32", 128, 0.05)
