"""README's "Start from a pretrained Qwen2-VL" commands, run as README writes them on the tiny tied
checkpoint: train, export, list the sweep, preflight it.

Two things are substituted, nothing else: `$QWEN` is the tiny checkpoint followed by a tiny budget
(the same `:key=value` pairs a user may append, here a 4-step run on the test corpus), and README's
`runs/` becomes the test's temporary directory.
"""
import json
import os
import re
import subprocess

import pytest

from tests import command_lanes, xla_env
from tests.hf.conftest import checkpoint_dir
from tests.train.test_train_runs import REPO

SECTION = "## Start from a pretrained Qwen2-VL"
TINY_BUDGET = ("steps=4,batch=8,data.image_size=28,data.max_images=2,data.text_len=320,model.lora.rank=2,"
               "eval.every_steps=4,eval.loss_batches=1,eval.generate_exams=2,eval.max_new_tokens=8,"
               "eval.max_answer_tokens=3,checkpoint.every_steps=4,train.log_mfu=False,"
               "train.compilation_cache_dir=''")


def readme_commands() -> list[str]:
    """The section's first bash block, without the line that sets QWEN (the test sets it)."""
    text = open(os.path.join(REPO, "README.md")).read()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    block = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.S).group(1)
    return [line for line in block.strip().splitlines() if not line.startswith("QWEN=")]


@pytest.fixture(scope="module")
def ran(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    name, data_dir = tiny_corpus
    qwen = f"{checkpoint_dir('tiny_tied')},corpus={name},data.data_dir={data_dir},{TINY_BUDGET}"
    env = xla_env.env_with_devices(2, QWEN=qwen)
    commands = [command.replace("runs/", f"{root}/runs/") for command in readme_commands()]

    def run(command):
        return subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900)

    done = command_lanes.run_in_two_lanes(commands, run)
    for command in commands:
        assert done[command].returncode == 0, f"{command}\n{done[command].stderr[-3000:]}"
    return root, [done[command].stdout for command in commands]


def test_readme_trains_from_the_checkpoint_and_exports_what_transformers_and_peft_load(ran):
    root, _ = ran
    run = root / "runs" / "qwen2vl_lora"
    summary = json.loads((run / "results.json").read_text())
    assert summary["config"]["model"]["init_from_hf"] == checkpoint_dir("tiny_tied")
    assert summary["n_params_trainable"] < summary["n_params_total"]
    adapter = json.loads((run / "export" / "adapter" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and adapter["r"] == 2
    assert (run / "export" / "adapter" / "adapter_model.safetensors").is_file()
    merged = json.loads((run / "export" / "merged" / "config.json").read_text())
    assert merged["model_type"] == "qwen2_vl"


def test_readme_lists_and_preflights_the_sweep_from_the_checkpoint(ran):
    _, outputs = ran
    listed, preflight = outputs[2], outputs[3]
    assert len(re.findall(r"\bd\d+\b", listed)) >= 3, listed  # one run per data size
    fits = [line for line in preflight.splitlines() if ": fits v5p-" in line]
    assert len(fits) == 3 and all("GiB/device" in line for line in fits), preflight
