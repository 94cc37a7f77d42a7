"""Stands in for `python -m usjax.main` where a test needs a sweep's report to fit: parses the same
flags, writes a results.json whose loss follows a known law L = 1.7 + 400/N^0.34 + 410/D^0.28 of
the run's preset size N and data size D."""
import json
import os

from absl import app
from absl import flags
from ml_collections import config_flags

# xs0, xs1, s0, s1, ...: each twice the one before
SIZE_INDEX = {"xs0": -2, "xs1": -1} | {f"s{i}": i for i in range(11)}
_CONFIG = config_flags.DEFINE_config_file("config", lock_config=True)  # as usjax.main
_WORKDIR = flags.DEFINE_string("workdir", None, "run directory")


def main(argv):
    del argv
    config, workdir = _CONFIG.value, _WORKDIR.value
    os.makedirs(workdir, exist_ok=True)
    n = 100_000.0 * 2 ** SIZE_INDEX[config.model.preset]  # doubling sizes
    d = float(config.data.num_train_exams)
    loss = 1.7 + 400 / n ** 0.34 + 410 / (1000 * d) ** 0.28
    results = dict(n_params_non_embedding=n, n_params_total=n, n_params_trainable=n,
                   train_exams=d, tokens_seen=1000 * d, flops=6 * n * 1000 * d, final_val_loss=loss,
                   best_val_loss=loss, metrics={}, wall_time_s=0.1, steps=1, config_hash="law",
                   config=config.to_dict(), tags=json.loads(config.tags) if isinstance(
                       config.tags, str) else config.tags.to_dict())
    with open(os.path.join(workdir, ".results.json.tmp"), "w") as f:
        json.dump(results, f)
    os.replace(os.path.join(workdir, ".results.json.tmp"), os.path.join(workdir, "results.json"))


if __name__ == "__main__":
    app.run(main)
