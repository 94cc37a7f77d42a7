"""The base experiment: every knob at its default (usjax/defaults.py lists and explains each one).
Other experiment files start from this one.

Use: python -m usjax.main --config=experiments/base.py --workdir=DIR [--config.train.steps=100]
`get_config(arg)` takes an optional comma-separated "key=value" string (big_vision style), e.g.
--config=experiments/base.py:preset=s4,exams=500 (experiments/config_arg.py says how it is read).
"""
import ml_collections

from experiments import config_arg
from usjax import defaults


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return config_arg.apply(defaults.get_config(), arg)
