"""The contrastive arm trains a few steps through the real loop and reports the shared table."""
import json
import math

from tests.train import train_tiny_config
from usjax.arms import ranking
from usjax.train import loop


def test_contrastive_arm_trains_through_the_loop(tiny_corpus, tmp_path):
    name, data_dir = tiny_corpus
    config = train_tiny_config.get_config()
    config.arm = "contrastive"
    config.data.name, config.data.data_dir = name, data_dir
    config.data.tasks = {"report": 1.0}  # the text tower reads [report prompt][report][end]
    config.contrastive.embed_dim = 16
    config.contrastive.graph_hidden = 16
    config.train.steps = 4
    config.eval.every_steps = 4
    config.eval.generate_exams = 0
    config.eval.arm_exams = 8
    config.checkpoint.every_steps = 4
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
