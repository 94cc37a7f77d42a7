"""The contrastive arm trains a few steps through the real loop and reports the shared table."""
import json
import math

from tests.train import train_tiny_config
from usjax.arms.shared import ranking
from usjax.train import loop


def test_contrastive_arm_trains_through_the_loop(tiny_corpus, tmp_path):
    # the text tower reads [report prompt][report][end]
    config = train_tiny_config.arm_run_config(
        tiny_corpus, "contrastive", **{"data.tasks": {"report": 1.0},
                                       "contrastive.embed_dim": 16, "contrastive.graph_hidden": 16})
    summary = loop.run(config, str(tmp_path))
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["steps"] == 4 and written["tags"] == summary["tags"]
    metrics = written["metrics"]
    print({k: round(v, 3) for k, v in metrics.items()}, "final_val_loss", written["final_val_loss"])
    for direction in ("image_to_report", "report_to_image"):
        for k in ranking.RECALL_KS:
            assert 0.0 <= metrics[ranking.retrieval_name(direction, k)] <= 1.0
    # every exam of the synthetic corpus has a system, an organ and a diagnosis
    for dim in ("system", "organ", "diagnosis"):
        assert 0.0 <= metrics[ranking.accuracy_name(dim)] <= 1.0
    assert ranking.MEAN_ACCURACY in metrics
    assert math.isfinite(written["final_val_loss"]) and written["final_val_loss"] > 0
    assert written["flops"] > 0 and written["n_params_trainable"] > 0
