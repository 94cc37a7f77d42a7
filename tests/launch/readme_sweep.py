"""What README's `experiments/my_sweep.py` stands for in tests/test_readme_commands.py: the real
base config over 3 presets x 3 data sizes (what a fit needs); the budget comes after the file name, as a user's would."""
from experiments import base
from launch import tags


def get_config(arg=None):
    return tags.declare(base.get_config(arg), get_sweep())


def get_sweep():
    return dict(product={"model.preset": ["s0", "s1", "s2"], "data.num_train_exams": [8, 12, 16]},
                names={"data.num_train_exams": "d"})
