"""A sweep whose fine-tuning runs start from another run of the sweep (`run:<name>`), written as a
union of grids; get_sweep takes the sweep argument. Run by tests/launch/dva_fake_trainer.py."""
import ml_collections

from launch import tags


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.train_exams = 10
    c.train = ml_collections.ConfigDict()
    c.train.init_from = ""
    c.fake = ml_collections.ConfigDict()
    c.fake.fail = False
    return tags.declare(c, get_sweep(arg))


def get_sweep(arg=None):
    # The fine-tuning runs come first as written: the sweep must still run their base first.
    base_fails = arg == "base_fails"
    return [
        dict(product={"data.train_exams": [20]},
             arms={"finetune": {"train.init_from": "run:d10-pretrain"},
                   "scratch": {}},
             names={"data.train_exams": "d"}),
        dict(product={"data.train_exams": [10]},
             arms={"pretrain": {"fake.fail": base_fails}},
             names={"data.train_exams": "d"}),
    ]
