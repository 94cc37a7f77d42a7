"""The quickstart scaling study, sized for a 2-core laptop: 4 model sizes x 4 data sizes.

    python launch/run.py --sweep=experiments/quickstart.py            # trains 16 runs, then reports
    python launch/run.py --sweep=experiments/quickstart.py --list     # the runs and their state

Every run trains the same number of steps on a nested subset of D synthetic exams (a smaller D is
a prefix of a larger one), so a small D is seen for more epochs and overfits: validation loss
falls with the model's size N and with D, and analysis/ fits L(N, D) = E + A/N^alpha + B/D^beta
to the 16 final validation losses. The synthetic 1k corpus is built first if it is missing.
Images, text and the end-of-run generation are kept small: the point is the curves, not the
clinical metrics (experiments/base.py's defaults are the run that shows those).
"""
from experiments import base
from launch import tags

MODEL_PRESETS = ["s0", "s1", "s2", "s3"]  # 0.12M .. 1.0M non-embedding parameters
TRAIN_EXAMS = [50, 100, 200, 400]         # D: nested subsets of the 1k corpus' train split


def get_config(arg=None):
    c = base.get_config(arg)
    c.data.batch_size = 16
    c.data.image_size = 56
    c.data.max_images = 1
    c.data.text_len = 128
    c.train.steps = 100          # 1600 exams: 4 epochs of the largest D, 32 of the smallest
    c.train.log_every_steps = 50
    c.eval.every_steps = 100     # validation loss at the end only
    c.eval.generate_exams = 4    # generation is the slow part of evaluation on CPU
    c.eval.max_new_tokens = 24
    c.eval.max_answer_tokens = 4
    c.checkpoint.every_steps = 50
    return tags.declare(c, get_sweep())


def get_sweep():
    return dict(product={"model.preset": MODEL_PRESETS, "data.num_train_exams": TRAIN_EXAMS},
                names={"data.num_train_exams": "d"})


def prepare(config):
    """Build the corpus once, before runs start (in parallel they would each try to build it)."""
    from usjax.data.us_exams import ensure_built
    ensure_built(config.data.name, config.data.data_dir)
