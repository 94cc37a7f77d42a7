"""What README's `experiments/my_sweep.py` stands for in tests/test_readme_commands.py: the real
base config over 3 presets x 3 data sizes (what a fit needs); the budget comes after the file name, as a user's would.
The smallest presets, so that its preflight (a TPU compile per program) stays short."""
from experiments import base
from launch import tags


def get_config(arg=None):
    return tags.declare(base.get_config(arg), get_sweep())


def get_sweep():
    return dict(product={"model.preset": ["xs0", "xs1", "s0"], "data.num_train_exams": [8, 12, 16]},
                names={"data.num_train_exams": "d"})
