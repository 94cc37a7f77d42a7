"""A tiny sweep for launch tests: 2 presets x 2 data sizes x 2 arms, run by tests/launch/fake_trainer."""
import ml_collections

from launch import tags


def get_config(arg=None):
    if arg not in (None, "size=big"):
        raise ValueError(f"unknown argument {arg!r}; use size=big")
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.model = ml_collections.ConfigDict()
    c.model.preset = "s1"
    c.data = ml_collections.ConfigDict()
    c.data.train_exams = 10
    c.fake = ml_collections.ConfigDict()
    c.fake.fail = False        # the fake trainer exits 1
    c.fake.crash_once = False  # the fake trainer "checkpoints" and exits 1 the first time only
    c.fake.note = ""           # carried into results.json (hostile strings in tests)
    c.fake.arg = arg or ""
    return tags.declare(c, get_sweep())


def get_sweep():
    return dict(
        product={"model.preset": ["s1", "s2"], "data.train_exams": [10, 20]},
        arms={"baseline": {}, "broken": {"fake.fail": True}},
        names={"data.train_exams": "d"},
    )
