"""The MoE generative arm (EchoVLM) trains a few steps through the real loop: the routing
statistics are logged as train/moe/..., losses are finite, the shared table and results.json hold."""
import glob
import json
import math

import tensorflow as tf

from tests.train import train_tiny_config
from usjax.arms.shared import ranking
from usjax.models import params, presets
from usjax.train import loop


def logged_scalars(workdir) -> dict[str, list[float]]:
    scalars = {}
    for path in glob.glob(f"{workdir}/tensorboard/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return scalars


def test_moe_arm_trains_through_the_loop(tiny_corpus, tmp_path):
    config = train_tiny_config.arm_run_config(
        tiny_corpus, **{"model.moe.experts": 4, "model.moe.region_routing": True,
                        "train.log_every_steps": 2,
                        "eval.generate_exams": 2})  # generation decodes through the MoE layers too
    summary = loop.run(config, str(tmp_path))
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["steps"] == 4 and math.isfinite(written["final_val_loss"])
    scalars = logged_scalars(tmp_path)
    for key in ("train/loss", "train/moe/load_balance_loss", "train/moe/dropped_fraction"):
        assert key in scalars and all(math.isfinite(v) for v in scalars[key]), (key, sorted(scalars))
    assert all(v >= 1.0 - 1e-4 for v in scalars["train/moe/load_balance_loss"])  # 1 = balanced
    assert all(0.0 <= v < 1.0 for v in scalars["train/moe/dropped_fraction"])
    assert 0.0 <= written["metrics"][ranking.retrieval_name("image_to_report", 1)] <= 1.0
    counts = params.count(presets.model_config(config.model))
    assert written["n_params_non_embedding"] == counts["non_embedding"] > counts["active_non_embedding"]
    assert summary["flops"] == written["flops"] > 0
