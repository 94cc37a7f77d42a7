"""One run end to end: check the config, build data, model and state, train, evaluate, report.

Resume is automatic: if the workdir holds a checkpoint, the train state, the data iterator and
the run's counters continue from the latest complete one, and the run ends bit-identical to one
never interrupted. SIGTERM (preemption) saves at the current step and exits with status 0.
"""
import sys

from absl import logging
from etils import epath
import jax
import ml_collections
import numpy as np

from usjax.data import batch_stats, global_batch, pipeline
from usjax.train import checkpoints, evaluate, metrics_writer, model_setup
from usjax.train import optimizer as optimizer_lib
from usjax.train import preemption, results, run_accounting
from usjax.train import step as step_lib


class NonFiniteError(RuntimeError):
    """A step produced a non-finite loss or gradient and train.on_nonfinite is "stop"."""


def check_finite(step: int, metrics: dict, mngr, on_nonfinite: str) -> None:
    bad = [name for name in ("loss", "grad_norm") if not np.isfinite(metrics[name])]
    if not bad or on_nonfinite == "skip":
        return
    mngr.wait_until_finished()
    last = mngr.latest_step()
    where = (f"last good checkpoint: step {last} in {mngr.directory}" if last is not None
             else "no checkpoint was saved yet")
    raise NonFiniteError(f"step {step}: {bad[0]} is {metrics[bad[0]]} (non-finite); {where}; "
                         f"lower train.learning_rate or set train.on_nonfinite=skip")


def _blank_image_loss(config, evaluator, state) -> dict[str, float]:
    """`val/loss_blank_images` (eval.blank_image_loss): the validation loss with black views."""
    if not config.eval.blank_image_loss:
        return {}
    return {"val/loss_blank_images": evaluator.val_loss(state, blank_images=True)}


def _log_step(writer, step, metrics, local_batch, accounting):
    writer.write_scalars(step, {
        **{f"train/{k}": v for k, v in metrics.items()}, **accounting.rates(),
        **{f"data/{k}": v for k, v in batch_stats.summarize(local_batch).items()}})


def _summary(config, setup, evaluator, accounting, metrics: dict, step: int) -> dict:
    """The results.json of the run (keys: usjax.train.results.RESULT_KEYS)."""
    counts, val_losses = setup.param_counts, accounting.counters.val_losses
    return {
        "n_params_non_embedding": counts["non_embedding"], "n_params_total": counts["total"],
        "n_params_trainable": counts["trainable"], "train_exams": evaluator.train_exams,
        "tokens_seen": accounting.counters.tokens_seen, "flops": accounting.flops,
        "final_val_loss": val_losses[str(step)], "best_val_loss": min(val_losses.values()),
        "metrics": metrics, "wall_time_s": accounting.snapshot()["train_seconds"],
        "steps": step, "config_hash": results.config_hash(config), "config": config.to_dict(),
        "tags": config.tags.to_dict() if "tags" in config else {}}


def enable_compilation_cache(directory: str) -> None:
    if directory:
        jax.config.update("jax_compilation_cache_dir", str(epath.Path(directory).expanduser()))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    setup = model_setup.prepare(config)  # every config error is raised here, before compiling
    enable_compilation_cache(config.train.compilation_cache_dir)
    epath.Path(workdir).mkdir(parents=True, exist_ok=True)
    writer = metrics_writer.create(workdir)
    train_iter = pipeline.make_train_iterator(config, jax.process_index(), jax.process_count())
    tx = optimizer_lib.create(config)
    graphdef, state, shardings = model_setup.init_state(config, setup, tx)
    accounting = run_accounting.RunAccounting(config, setup, jax.device_count())
    mngr = checkpoints.manager(workdir, config)
    restored = checkpoints.restore_latest(mngr, checkpoints.abstract_like(state), train_iter)
    if restored is None:
        step = 0
        state = model_setup.load_initial_params(config, setup, state)
    else:
        step, state, progress = restored
        accounting.restore(progress)
        logging.info("resumed from the checkpoint of step %d", step)
    schedule = optimizer_lib.learning_rate_schedule(config)
    train_step = step_lib.jit_train_step(graphdef, tx, config.train.micro_batches,
                                         shardings.state, shardings.batch,
                                         model_setup.loss_fn(config))
    evaluator = evaluate.Evaluator(config, setup, graphdef, shardings)
    actions = metrics_writer.progress_actions(workdir, config.train.steps, writer,
                                              config.train.profile_steps,
                                              config.train.profile_first_step)
    watcher = preemption.PreemptionWatcher()
    try:
        with setup.mesh_context():
            while step < config.train.steps:
                local = next(train_iter)
                batch = global_batch.global_batch(
                    batch_stats.model_inputs(local, setup.arm.INPUT_KEYS), setup.mesh,
                    shardings.batch_spec)
                state, metrics = train_step(state, batch, np.float32(schedule(step)))
                step += 1
                metrics = jax.device_get(metrics)
                check_finite(step, metrics, mngr, config.train.on_nonfinite)
                accounting.add_step(metrics)
                for action in actions:
                    action(step)
                if step % config.train.log_every_steps == 0 or step == config.train.steps:
                    _log_step(writer, step, metrics, local, accounting)
                if step % config.eval.every_steps == 0 and step < config.train.steps:
                    val_loss = evaluator.val_loss(state)
                    accounting.add_val_loss(step, val_loss)
                    writer.write_scalars(step, {"val/loss": val_loss})
                saved = checkpoints.save(mngr, step, state, train_iter, accounting.snapshot())
                if watcher.reached(step, mngr):
                    if not saved:
                        checkpoints.save(mngr, step, state, train_iter, accounting.snapshot(),
                                         force=True)
                    mngr.wait_until_finished()
                    logging.warning("preempted: saved the checkpoint of step %d; exiting", step)
                    writer.flush()
                    sys.exit(0)
            if mngr.latest_step() != step:
                checkpoints.save(mngr, step, state, train_iter, accounting.snapshot(), force=True)
            final_val_loss = evaluator.val_loss(state)
            accounting.add_val_loss(step, final_val_loss)
            metrics = {"val/loss": final_val_loss, **_blank_image_loss(config, evaluator, state),
                       **evaluator.generation_metrics(state),
                       **evaluator.reference_metrics(), **evaluator.arm_metrics(state)}
    finally:
        mngr.wait_until_finished()
        watcher.close()
    writer.write_scalars(step, metrics)
    writer.flush()
    summary = _summary(config, setup, evaluator, accounting, metrics, step)
    if jax.process_index() == 0:
        if evaluator.samples:
            results.write_samples(workdir, evaluator.samples)
        results.write(workdir, summary)
    mngr.close()
    return summary
