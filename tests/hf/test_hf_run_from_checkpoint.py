"""--config.model.init_from_hf=DIR: a LoRA run starts from the checkpoint's weights (frozen, only
adapters train), reads exams through the checkpoint's tokenizer in Qwen2-VL's chat layout, and runs
on the same loop, checkpoints, resume, evaluation and results.json as a run trained here."""
import dataclasses
import json
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.hf.conftest import checkpoint_dir
from tests.train import train_tiny_config
from tests.train.test_train_runs import REPO, _final_params, _interrupt_after_checkpoints, _leaves, _log, _start, _wait
from usjax.data import pipeline
from usjax.hf import export, export_run, weights
from usjax.hf import tokenizer as hf_tokenizer
from usjax.models import presets, vlm
from usjax.train import config_checks, model_setup, optimizer, results

CHECKPOINT = checkpoint_dir("tiny_tied")
# the tiny tokenizer knows few merges: questions take ~200 tokens, so the text is longer than usual
TEXT_LEN = 320
FLAGS = (f"--config.model.init_from_hf={CHECKPOINT}", "--config.train.mode=lora", "--config.model.lora.rank=2",
         "--config.train.label_loss_weight=0", f"--config.data.text_len={TEXT_LEN}")


def lora_config(corpus=None):
    c = train_tiny_config.get_config()
    c.model.init_from_hf, c.train.mode, c.model.lora.rank = CHECKPOINT, "lora", 2
    c.data.text_len = TEXT_LEN
    if corpus:
        c.data.name, c.data.data_dir = corpus
    return c


def test_lora_from_a_checkpoint_freezes_its_weights_and_trains_only_adapters():
    config = lora_config()
    setup = model_setup.prepare(config)
    assert setup.mcfg.chat is not None and setup.mcfg.vocab_size == 384  # config.json's, not data.vocab_size
    _, state, _ = model_setup.init_state(config, setup, optimizer.create(config))
    state = model_setup.load_initial_params(config, setup, state)
    reference = vlm.VisionLanguageModel(setup.mcfg, rngs=nnx.Rngs(0))
    weights.load_into(reference, CHECKPOINT)
    expected = nnx.to_pure_dict(nnx.state(reference, nnx.Param))
    frozen = nnx.to_pure_dict(state.frozen)
    for path in (("decoder", "embed_tokens"), ("vision", "patch_embed", "kernel"), ("merger", "fc2", "bias")):
        a, b = expected, frozen
        for key in path:
            a, b = a[key], b[key]
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    trainable = [p for p, _ in jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(state.params))[0]]
    assert trainable and all("lora" in jax.tree_util.keystr(p) for p in trainable)


def test_the_pipeline_writes_the_checkpoint_tokenizers_chat_turns(tiny_corpus):
    config = lora_config(tiny_corpus)
    tok = pipeline.tokenizer_for(config)
    assert isinstance(tok, hf_tokenizer.HFTokenizer)
    batch = next(iter(pipeline.make_train_iterator(config)))
    assistant = tok.encode("<|im_end|>\n<|im_start|>assistant\n")
    for row in range(len(batch["tokens"])):
        tokens, loss = batch["tokens"][row], batch["loss_mask"][row] > 0
        first_target = int(np.argmax(loss))
        assert tokens[first_target - len(assistant):first_target].tolist() == assistant
        ends = tokens[batch["text_mask"][row]][-1]
        assert ends == tok.eos_id or loss.sum() == loss[first_target:].size  # cut rows get no end
        assert (tokens[~batch["text_mask"][row]] == tok.pad_id).all()


def test_a_checkpoint_needs_lora_or_finetune_and_no_second_starting_point():
    config = lora_config()
    config.train.mode, config.model.lora.rank = "scratch", 0
    with pytest.raises(config_checks.ConfigError, match="train.mode=lora or finetune"):
        model_setup.prepare(config)
    config = lora_config()
    config.train.init_from = "/some/run"
    with pytest.raises(config_checks.ConfigError, match="not both"):
        model_setup.prepare(config)
    config = lora_config()
    config.model.hidden = 64
    with pytest.raises(config_checks.ConfigError, match="config.model.hidden=64 contradicts"):
        model_setup.prepare(config)


@pytest.fixture(scope="module")
def hf_runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_runs")
    cache = root / "jax_cache"
    ref, kill = str(root / "ref"), str(root / "kill")
    processes = [_start(tiny_corpus, ref, cache, extra=FLAGS), _start(tiny_corpus, kill, cache, extra=FLAGS)]
    _interrupt_after_checkpoints([(processes[1], kill, 10, signal.SIGKILL)])
    codes = [_wait(p, w) for p, w in zip(processes, (ref, kill))]
    restart = _start(tiny_corpus, kill, cache, extra=FLAGS)
    codes.append(_wait(restart, kill))
    return dict(ref=ref, kill=kill, codes=codes)


def test_a_lora_run_from_a_checkpoint_evaluates_and_writes_results(hf_runs):
    assert hf_runs["codes"][0] == 0, _log(hf_runs["ref"])
    summary = results.read(hf_runs["ref"])
    assert tuple(summary) == results.RESULT_KEYS
    assert summary["config"]["model"]["init_from_hf"] == CHECKPOINT
    assert 0 < summary["n_params_trainable"] < summary["n_params_total"] and summary["tokens_seen"] > 0
    for name in ("report/bleu4", "vqa/exact_match", "val/loss", "val/loss_blank_images"):
        assert np.isfinite(summary["metrics"][name]), name


def test_a_killed_run_from_a_checkpoint_resumes_to_bit_identical_adapters(hf_runs):
    assert hf_runs["codes"][2] == 0, _log(hf_runs["kill"])
    step_ref, ref = _final_params(hf_runs["ref"])
    step_kill, resumed = _final_params(hf_runs["kill"])
    assert step_ref == step_kill
    for a, b in zip(_leaves(ref), _leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_the_finished_run_exports_an_adapter_and_a_merged_checkpoint(hf_runs, tmp_path):
    out = tmp_path / "export"
    done = subprocess.run([sys.executable, "-m", "usjax.hf.export_run", f"--workdir={hf_runs['ref']}",
                           f"--out={out}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    trained, config = export_run.trained_model(hf_runs["ref"])
    _, saved = _final_params(hf_runs["ref"])
    for a, b in zip(_leaves(saved), _leaves(nnx.to_pure_dict(nnx.state(trained, nnx.LoRAParam)))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the run's trained adapters
    adapted = vlm.VisionLanguageModel(trained.cfg, rngs=nnx.Rngs(1))
    weights.load_into(adapted, CHECKPOINT)
    export.import_adapter(adapted, str(out / "adapter"))
    merged = vlm.VisionLanguageModel(dataclasses.replace(trained.cfg, lora=presets.LoraConfig()), rngs=nnx.Rngs(1))
    weights.load_into(merged, str(out / "merged"))
    batch = {k: v[:2] for k, v in next(iter(pipeline.make_train_iterator(lora_config(corpus_of(config))))).items()}
    logits = [np.asarray(m.eval() or m(*(jnp.asarray(batch[k]) for k in ("images", "image_mask", "tokens", "text_mask"))))
              for m in (trained, adapted, merged)]
    np.testing.assert_array_equal(logits[1], logits[0])  # the PEFT adapter brings back the same network
    assert np.abs(logits[2] - logits[0]).max() < 1e-4 * np.abs(logits[0]).max()  # merged: up to rounding


def corpus_of(config):
    return config.data.name, config.data.data_dir


def test_export_refuses_an_unfinished_run_and_a_run_trained_from_scratch(tmp_path):
    with pytest.raises(ValueError, match=r"results.json is missing: export a run that has finished"):
        export_run.run_config(str(tmp_path))
    config = train_tiny_config.get_config()
    (tmp_path / results.FILENAME).write_text(json.dumps({"config": config.to_dict()}))
    with pytest.raises(ValueError, match="trained from scratch"):
        export_run.run_config(str(tmp_path))
