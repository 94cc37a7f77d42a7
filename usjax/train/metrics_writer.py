"""Where metrics go: TensorBoard events and the log, from process 0 only.

Other processes get CLU's logging-only writer (their own log, no event files), so every host
runs the same code and exactly one copy of each metric lands in the workdir.
"""
from clu import metric_writers
from clu import periodic_actions
from etils import epath
import jax


def create(workdir: str) -> metric_writers.MetricWriter:
    return metric_writers.create_default_writer(
        str(epath.Path(workdir) / "tensorboard"), just_logging=jax.process_index() > 0)


def progress_actions(workdir: str, num_train_steps: int, writer: metric_writers.MetricWriter,
                     profile_steps: int, profile_first_step: int) -> list:
    """ReportProgress (steps/s, ETA, written as metrics) and, when asked, a profiler trace."""
    actions = [periodic_actions.ReportProgress(num_train_steps=num_train_steps, writer=writer,
                                               every_secs=30.0)]
    if profile_steps > 0 and jax.process_index() == 0:
        actions.append(periodic_actions.Profile(
            logdir=str(epath.Path(workdir) / "profile"), num_profile_steps=profile_steps,
            first_profile=profile_first_step, every_secs=None))
    return actions
