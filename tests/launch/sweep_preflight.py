"""A tiny sweep for the AOT preflight test: the real base config with the smallest preset (one layer deep: its
preflight compiles one program)."""
from experiments import base


def get_config(arg=None):
    c = base.get_config(arg)
    c.data.batch_size = 8
    c.data.max_images = 1
    c.data.image_size = 56
    c.data.text_len = 32
    return c


def get_sweep():
    return dict(product={"model.preset": ["xs0"], "data.batch_size": [8]},
                names={"data.batch_size": "b"})
