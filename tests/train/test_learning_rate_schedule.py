"""The learning-rate schedule: linear warmup then cosine to end_lr_fraction x peak; with a task
warm-up and train.restart_schedule_after_task_warmup, the task mixture after it gets a cycle of
its own (a fresh warmup to the full peak), so it does not start half-decayed."""
import numpy as np

from experiments import base
from usjax.train import optimizer


def _config(steps=100, task_warmup=0, restart=True):
    config = base.get_config()
    config.train.update(steps=steps, learning_rate=1e-3, warmup_fraction=0.1,
                        end_lr_fraction=0.1, restart_schedule_after_task_warmup=restart)
    config.data.task_warmup_fraction = task_warmup / steps
    return config


def _rates(config):
    schedule = optimizer.learning_rate_schedule(config)
    return np.array([float(schedule(i)) for i in range(config.train.steps)])


def test_one_cycle_peaks_once_and_ends_at_the_end_fraction():
    rates = _rates(_config())
    assert rates[0] == 0.0 and np.isclose(rates.max(), 1e-3) and rates.argmax() == 10
    assert np.all(np.diff(rates[10:]) <= 0) and np.isclose(rates[-1], 1e-4, rtol=0.01)


def test_after_a_task_warmup_the_mixture_starts_a_second_full_cycle():
    rates = _rates(_config(task_warmup=40))
    assert np.isclose(rates[4], 1e-3) and np.isclose(rates[39], 1e-4, rtol=0.05)
    assert rates[40] == 0.0  # the second cycle warms up again, over 10% of its 60 steps
    assert np.isclose(rates[46], 1e-3) and np.all(np.diff(rates[46:]) <= 0)
    assert np.isclose(rates[-1], 1e-4, rtol=0.05)


def test_without_the_restart_a_task_warmup_leaves_the_single_cycle():
    np.testing.assert_array_equal(_rates(_config(task_warmup=40, restart=False)),
                                  _rates(_config()))
