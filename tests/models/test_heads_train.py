"""The heads arm trains a few steps through the real loop and reports its metrics."""
import json
import math

from tests.train import train_tiny_config
from usjax import taxonomy
from usjax.train import loop


def test_heads_arm_trains_through_the_loop(tiny_corpus, tmp_path):
    config = train_tiny_config.arm_run_config(
        tiny_corpus, "heads", **{"data.with_masks": True, "heads.adapter_width": 8})
    summary = loop.run(config, str(tmp_path))
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["steps"] == 4 and written["tags"] == summary["tags"]
    metrics = written["metrics"]
    # every exam of the synthetic corpus has a system, an organ and a diagnosis
    for dim in ("system", "organ", "diagnosis"):
        assert 0.0 <= metrics[f"classify/{dim}/accuracy"] <= 1.0
        assert 0.0 <= metrics[f"classify/{dim}/macro_f1"] <= 1.0
    assert any(k.endswith("/auc") for k in metrics)
    assert 0.0 <= metrics["classify/mean_accuracy"] <= 1.0
    assert 0.0 <= metrics["segment/iou"] <= metrics["segment/dice"] <= 1.0
    assert set(k.split("/")[1] for k in metrics if k.startswith("classify/") and k.count("/") == 2) <= set(
        taxonomy.DIMENSIONS)
    assert math.isfinite(written["final_val_loss"]) and written["final_val_loss"] > 0
    assert written["flops"] > 0 and 0 < written["n_params_trainable"] < written["n_params_total"]
