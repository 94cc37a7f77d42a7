"""Whole runs of `python -m usjax.main` on the tiny corpus: exact resume after SIGKILL, SIGTERM
preemption, 2 processes x 2 devices against 1 process x 4, and results.json.

Subprocess runs are the expensive part of this room, so one module-scoped fixture starts them all,
in two waves of concurrent processes, and every test reads what it needs from them. A persistent
compilation cache shared by the runs lets later runs skip most compiling.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

from etils import epath
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from tests import xla_env
from usjax.train import results

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 30
EVERY = 10  # checkpoint and validation interval: signals land at least 20 steps before the end
TIMEOUT_S = 900


def _env(cache_dir, devices: int) -> dict:
    env = xla_env.env_with_devices(devices)
    env.update(JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache_dir),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    return env


def _start(corpus, workdir, cache_dir, devices=4, extra=()):
    name, data_dir = corpus
    command = [sys.executable, "-m", "usjax.main", "--config=tests/train/train_tiny_config.py",
               f"--workdir={workdir}", f"--config.data.name={name}",
               f"--config.data.data_dir={data_dir}", f"--config.train.steps={STEPS}",
               "--config.train.log_every_steps=1", f"--config.checkpoint.every_steps={EVERY}",
               f"--config.eval.every_steps={EVERY}", *extra]
    log = open(f"{workdir}.log", "a")
    return subprocess.Popen(command, cwd=REPO, env=_env(cache_dir, devices), stdout=log,
                            stderr=subprocess.STDOUT)


def _interrupt_after_checkpoints(plan) -> None:
    """For each (process, workdir, step, signum): sends signum as soon as the checkpoint of `step`
    is complete (its final directory exists). Polls all runs together, so a slow run never
    delays the signal of a fast one."""
    pending = list(plan)
    deadline = time.time() + TIMEOUT_S
    while pending:
        for item in list(pending):
            process, workdir, step, signum = item
            assert process.poll() is None, f"run ended before checkpoint {step}: {_log(workdir)}"
            if (epath.Path(workdir) / "checkpoints" / str(step)).exists():
                process.send_signal(signum)
                pending.remove(item)
        assert time.time() < deadline
        time.sleep(0.01)


def _log(workdir) -> str:
    return open(f"{workdir}.log").read()


def _wait(process, workdir) -> int:
    return process.wait(timeout=TIMEOUT_S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cache = root / "jax_cache"
    w = {k: str(root / k) for k in ("ref", "mh", "kill", "term")}
    out = {"workdirs": w}
    # wave 1: the uninterrupted reference (1 process x 4 devices) and the same run on
    # 2 processes x 2 devices (gloo collectives on localhost)
    port = _free_port()
    ref = _start(tiny_corpus, w["ref"], cache)
    mh = [_start(tiny_corpus, w["mh"] if i == 0 else w["mh"] + f"_p{i}", cache, devices=2,
                 extra=(f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
                        f"--process_id={i}", f"--workdir={w['mh']}"))
          for i in range(2)]
    out["ref_rc"] = _wait(ref, w["ref"])
    out["mh_rc"] = [_wait(p, w["mh"]) for p in mh]
    # wave 2: SIGKILL right after a checkpoint, SIGTERM mid-run; then both restart
    kill, term = _start(tiny_corpus, w["kill"], cache), _start(tiny_corpus, w["term"], cache)
    _interrupt_after_checkpoints([(kill, w["kill"], EVERY, signal.SIGKILL),
                                  (term, w["term"], EVERY, signal.SIGTERM)])
    out["kill_rc"], out["term_rc"] = _wait(kill, w["kill"]), _wait(term, w["term"])
    term_ckpt = ocp.CheckpointManager(epath.Path(w["term"]) / "checkpoints")
    out["term_saved_step"] = term_ckpt.latest_step()
    term_ckpt.close()
    out["term_results_after_signal"] = (epath.Path(w["term"]) / results.FILENAME).exists()
    restarts = [_start(tiny_corpus, w[k], cache) for k in ("kill", "term")]
    out["restart_rc"] = [_wait(p, w[k]) for p, k in zip(restarts, ("kill", "term"))]
    return out


def _final_params(workdir):
    with ocp.CheckpointManager(epath.Path(workdir) / "checkpoints") as mngr:
        step = mngr.latest_step()
        restored = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore()))
    return step, restored["state"]["params"]


def _losses(workdir) -> dict[int, float]:
    found = re.findall(r"\[(\d+)\] .*?train/loss=([-+0-9.e]+|nan|inf)", _log(workdir))
    return {int(step): float(loss) for step, loss in found}


def test_reference_run_writes_results_with_the_contract_keys(runs):
    assert runs["ref_rc"] == 0, _log(runs["workdirs"]["ref"])
    summary = results.read(runs["workdirs"]["ref"])
    assert tuple(summary) == results.RESULT_KEYS
    assert summary["steps"] == STEPS and summary["train_exams"] > 0
    assert summary["flops"] > 0 and summary["tokens_seen"] > 0
    assert summary["n_params_trainable"] == summary["n_params_total"] > summary[
        "n_params_non_embedding"] > 0
    assert summary["best_val_loss"] <= summary["final_val_loss"]
    metrics = summary["metrics"]
    for name in ("report/bleu4", "report/rougeL", "clinical/organ/f1", "vqa/exact_match",
                 "baseline/report/bleu4", "baseline/clinical/diagnosis/f1",
                 "reference/unigram_loss", "val/loss", "val/loss_blank_images"):
        assert np.isfinite(metrics[name]), name
    # black views are another input: the loss moves (how far says how much the views are read)
    assert metrics["val/loss_blank_images"] != metrics["val/loss"]
    assert summary["config"]["train"]["steps"] == STEPS


def test_sigkill_right_after_a_checkpoint_then_resume_is_bit_identical(runs):
    w = runs["workdirs"]
    assert runs["kill_rc"] == -signal.SIGKILL
    assert runs["restart_rc"][0] == 0, _log(w["kill"])
    resumed = re.findall(r"resumed from the checkpoint of step (\d+)", _log(w["kill"]))
    assert resumed and int(resumed[0]) < STEPS  # it really resumed mid-run
    ref_step, ref_params = _final_params(w["ref"])
    step, params = _final_params(w["kill"])
    assert step == ref_step == STEPS
    for a, b in zip(_leaves(ref_params), _leaves(params)):
        np.testing.assert_array_equal(a, b)
    assert results.read(w["kill"])["final_val_loss"] == results.read(w["ref"])["final_val_loss"]
    assert results.read(w["kill"])["tokens_seen"] == results.read(w["ref"])["tokens_seen"]


def test_sigterm_saves_the_current_step_exits_cleanly_and_resumes(runs):
    w = runs["workdirs"]
    assert runs["term_rc"] == 0, _log(w["term"])
    assert EVERY <= runs["term_saved_step"] < STEPS and not runs["term_results_after_signal"]
    assert runs["restart_rc"][1] == 0, _log(w["term"])
    _, ref_params = _final_params(w["ref"])
    _, params = _final_params(w["term"])
    for a, b in zip(_leaves(ref_params), _leaves(params)):
        np.testing.assert_array_equal(a, b)


def test_two_processes_of_two_devices_match_one_process_of_four(runs):
    w = runs["workdirs"]
    assert runs["mh_rc"] == [0, 0], _log(w["mh"]) + _log(w["mh"] + "_p1")
    ref, mh = _losses(w["ref"]), _losses(w["mh"])
    assert sorted(ref) == sorted(mh) == list(range(1, STEPS + 1))
    for step in ref:
        assert abs(mh[step] - ref[step]) <= 1e-5 * abs(ref[step]), (step, ref[step], mh[step])
    ref_val, mh_val = (results.read(w[k])["final_val_loss"] for k in ("ref", "mh"))
    assert abs(ref_val - mh_val) <= 1e-5 * abs(ref_val)


def _leaves(tree):
    import jax
    leaves = jax.tree.leaves(tree)
    assert leaves
    return leaves


def test_lora_starts_from_the_finished_run_and_trains_only_adapters(runs):
    """train.mode=lora with train.init_from=<reference workdir>: the base weights are the
    reference run's final parameters, frozen; only adapters are in the optimizer state."""
    import jax

    from tests.train import train_tiny_config
    from usjax.models import params as params_lib
    from usjax.train import model_setup, optimizer

    config = train_tiny_config.get_config()
    config.train.mode, config.train.init_from = "lora", runs["workdirs"]["ref"]
    config.model.lora.rank = 2
    setup = model_setup.prepare(config)
    tx = optimizer.create(config)
    _, state, _ = model_setup.init_state(config, setup, tx)
    state = model_setup.load_initial_params(config, setup, state)
    counts = params_lib.count(setup.mcfg)
    assert sum(x.size for x in jax.tree.leaves(state.params)) == counts["trainable"] > 0
    adam_mu = state.opt_state[1].mu  # chain(clip, scale_by_adam, decay) -> ScaleByAdamState
    assert jax.tree.structure(adam_mu) == jax.tree.structure(state.params)
    _, ref_params = _final_params(runs["workdirs"]["ref"])
    for a, b in zip(_leaves(ref_params), _leaves(nnx.to_pure_dict(state.frozen))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
