"""Every knob of one usjax run, with its default. Other experiment files start from this one.

Use: python -m usjax.main --config=experiments/base.py --workdir=DIR [--config.train.steps=100]
`get_config(arg)` takes an optional comma-separated "key=value" string (big_vision style), e.g.
--config=experiments/base.py:preset=s4,exams=500.
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0

    # --- corpus and input pipeline (usjax.data) ---
    c.data = ml_collections.ConfigDict()
    c.data.name = "us_exams/1k"  # TFDS name/config; built on first use if missing
    c.data.data_dir = "~/tensorflow_datasets"

    # --- model (usjax.models) ---
    c.model = ml_collections.ConfigDict()
    c.model.preset = "s4"

    # --- device mesh and sharding rules (usjax.models.sharding) ---
    c.mesh = ml_collections.ConfigDict()

    # --- optimisation and the loop (usjax.train) ---
    c.train = ml_collections.ConfigDict()

    # --- evaluation (usjax.train.evaluate) ---
    c.eval = ml_collections.ConfigDict()

    # --- checkpoints (usjax.train.checkpoints) ---
    c.checkpoint = ml_collections.ConfigDict()
    return c
