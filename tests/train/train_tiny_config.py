"""A tiny run for the train tests: experiments/base.py with the smallest model and few steps.

The corpus comes from the `tiny_corpus` fixture: tests pass --config.data.name/data_dir.
"""
from experiments import base
from launch import sweep as sweep_lib


def get_config(arg: str | None = None):
    c = base.get_config(arg)
    c.model.preset = "s0"
    c.data.vocab_size = 512
    c.data.batch_size = 8
    c.data.text_len = 96
    c.data.image_size = 28
    c.data.max_images = 2
    c.train.steps = 6
    c.train.learning_rate = 1e-2
    c.train.log_every_steps = 2
    c.train.log_mfu = False
    c.train.compilation_cache_dir = ""  # tests compile afresh: nothing outside the test's dirs
    c.eval.every_steps = 4
    c.eval.loss_batches = 1
    c.eval.generate_exams = 4
    c.eval.max_new_tokens = 8
    c.eval.max_answer_tokens = 3
    c.checkpoint.every_steps = 2
    c.mesh.data = -1
    return c


def arm_run_config(corpus: tuple[str, str], arm: str = "generative", **sections):
    """A 4-step run of `arm` on the `tiny_corpus` fixture's (name, data_dir), evaluated at its end
    on 8 exams for the arms' shared table; `sections` are dotted overrides ("model.moe.experts")
    given as keyword pairs {"model.moe.experts": 4}."""
    c = get_config()
    c.arm = arm
    c.data.name, c.data.data_dir = corpus
    c.train.steps = 4
    c.eval.every_steps = 4
    c.eval.generate_exams = 0
    c.eval.arm_exams = 8
    c.checkpoint.every_steps = 4
    return sweep_lib.apply_overrides(c, sections.items())
