"""Every command in README.md's bash blocks runs as written, with only these substitutions:

- a tiny budget appended where a user appends overrides (`--config.*` flags after a one-run
  command, `:key=value` after a sweep file) and the test's temporary directory for `runs/`,
  `/tmp/run1`, `DIR`, `OUT` and `points.csv` (a table the test writes from a known law);
- `experiments/my_sweep.py`, which README asks the reader to write, is tests/launch/readme_sweep.py,
  and its local run trains with tests/launch/law_trainer.py (a loss from a known law, so that the
  report at the end has a law to fit without nine real runs; `python -m usjax.main` itself is run
  by README's one-run command);
- the main job is run with `--list` appended (its full run is measured in docs/quickstart.md and
  its sweep is pinned by tests/launch/test_quickstart_sweep.py), and the plan from its fit reads
  my_sweep's fit instead; the test command is what CI runs
  (.ci/run, checked here); the pretrained section is run by tests/hf/test_readme_pretrained_commands.py.

A command README gains that no rule here covers fails the test, so README and its tests move
together.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests import command_lanes, xla_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = "## Start from a pretrained Qwen2-VL"
TINY = ("steps=2,batch=4,data.image_size=28,data.max_images=2,data.text_len=48,eval.every_steps=2,"
        "eval.loss_batches=1,eval.generate_exams=0,eval.arm_exams=0,checkpoint.every_steps=2,"
        "train.log_mfu=False,train.compilation_cache_dir=''")
TINY_FLAGS = " ".join(f"--config.{pair}" for pair in TINY.split(",") if not pair.startswith(
    ("steps=", "batch="))) + " --config.train.steps=2 --config.data.batch_size=4 --config.data.num_train_exams=16"


def readme() -> str:
    return open(os.path.join(REPO, "README.md")).read()


def commands(text: str) -> list[str]:
    """README's bash commands outside the pretrained section, continuation lines joined and
    comments dropped."""
    text = text.split(PRETRAINED)[0] + text.split(PRETRAINED)[1].split("\n## ", 1)[-1]
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command:
                found.append(re.sub(r"\s+", " ", command))
    return found


def test_readme_keeps_its_sections_and_stays_short():
    text = readme()
    assert len(text) <= 8500, f"README.md has {len(text)} characters; move detail to docs/"
    for section in ("## The two commands", "## Quickstart result", "## Using it", PRETRAINED,
                    "## Measured figures", "## Status"):
        assert section in text
    for link in re.findall(r"\]\(((?:docs|experiments)/[^)]+)\)", text):
        assert os.path.exists(os.path.join(REPO, link)), f"README links to missing {link}"


def test_ci_runs_readme_test_command_as_written():
    test_command = next(c for c in commands(readme()) if "pytest" in c)
    assert test_command in open(os.path.join(REPO, ".ci", "run")).read()


@pytest.fixture(scope="module")
def ran(tiny_corpus, tmp_path_factory):
    """Each README command, substituted as the module docstring says, run from the repository;
    {command as README writes it: completed process}."""
    root = tmp_path_factory.mktemp("readme_commands")
    name, data_dir = tiny_corpus
    corpus = f"corpus={name},data.data_dir={data_dir}"
    points = root / "points.csv"
    write_points(points)
    exams = make_exam_folders(root / "exams")
    substituted = {command: substitute(command, root, corpus, points, exams)
                   for command in commands(readme())}
    substituted = {command: s for command, s in substituted.items() if s is not None}
    env = xla_env.env_with_devices(2)

    def run(command):
        return subprocess.run(["bash", "-c", substituted[command]], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=900)

    done = command_lanes.run_in_two_lanes(list(substituted), run)
    return root, done


def substitute(command: str, root, corpus: str, points, exams) -> str | None:
    if "pytest" in command:
        return None  # CI's own command
    command = command.removeprefix("pip install -r requirements.txt && ")
    if command.startswith("python launch/run.py --sweep=experiments/quickstart.py"):
        return f"{command} --root={root}/runs --list"
    if command.startswith("python -m usjax.main"):
        command = command.replace("/tmp/run1", f"{root}/run1")
        return f"{command} --config.data.name={corpus.split(',')[0].split('=')[1]} " \
               f"--config.data.data_dir={corpus.split('=')[-1]} {TINY_FLAGS}"
    if "experiments/my_sweep.py" in command:
        # preflight compiles for the slice: its batch must divide over v5p-64's 32 chips
        budget = TINY.replace("batch=4", "batch=32") if "--preflight" in command else TINY
        command = command.replace("experiments/my_sweep.py",
                                  f"tests/launch/readme_sweep.py:{corpus},{budget}")
        trainer = " --trainer=tests.launch.law_trainer" if "--parallel" in command else ""
        return f"{command} --root={root}/runs{trainer}"
    if command.startswith("python -m usjax.data.us_exams"):
        return f"{command.replace('DIR', str(exams))} --data_dir={root}/tfds"
    if command.startswith("python -m analysis.report"):
        return command.replace("points.csv", str(points)).replace("OUT", f"{root}/fit")
    if command.startswith("python -m analysis.plan --fit=runs/quickstart/report/fit.json"):
        # the quickstart's report is measured in docs/quickstart.md; my_sweep's (above) stands in
        return command.replace("runs/quickstart/report/fit.json",
                               f"{root}/runs/readme_sweep/report/fit.json")
    raise AssertionError(f"README command with no test rule: {command!r}; add one to {__file__}")


def write_points(path) -> None:
    """A 4 x 4 grid from a known law with 0.5% noise: what a user's own table looks like."""
    rng = np.random.default_rng(0)
    rows = ["N,D,loss"]
    for n in np.geomspace(1e6, 1e8, 4):
        for d in np.geomspace(1e8, 1e10, 4):
            loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * (1 + 0.005 * rng.normal())
            rows.append(f"{n:.0f},{d:.0f},{loss:.5f}")
    path.write_text("\n".join(rows) + "\n")


def make_exam_folders(root):
    """Six exams laid out as README says: views as PNG, report.txt, labels.json."""
    from PIL import Image
    for index in range(6):
        exam = root / f"exam{index}"
        exam.mkdir(parents=True)
        for view in range(2):
            pixels = np.random.default_rng([index, view]).integers(0, 255, (64, 64), np.uint8)
            Image.fromarray(pixels).save(exam / f"view{view}.png")
        (exam / "report.txt").write_text("The liver is normal in size with homogeneous echotexture.")
        (exam / "labels.json").write_text(json.dumps({"organ": "liver"}))
    return root


def test_every_readme_command_succeeds(ran):
    _, done = ran
    failed = [f"{c}\n{p.stderr.strip().splitlines()[-1:]}" for c, p in done.items() if p.returncode != 0]
    assert failed == []
    assert len(done) >= 8


def test_readme_commands_did_what_readme_says(ran):
    root, done = ran
    listed = next(p.stdout for c, p in done.items() if "quickstart.py" in c)
    assert len(re.findall(r"^x?s\d-", listed, re.M)) == 24, listed
    assert json.loads((root / "run1" / "results.json").read_text())["steps"] == 2
    results = list((root / "runs" / "readme_sweep").glob("*/results.json"))
    assert len(results) == 9
    preflight = next(p.stdout for c, p in done.items() if "--preflight" in c)
    assert "GiB/device" in preflight, preflight
    dry = next(p.stdout for c, p in done.items() if "--dry-run" in c)
    assert "gcloud" in dry, dry
    fit = json.loads((root / "fit" / "fit.json").read_text())
    assert fit
    plan = next(p.stdout for c, p in done.items() if "analysis.plan" in c)
    assert "N_opt" in plan and (root / "runs" / "readme_sweep" / "report" / "next_sweep.py").exists()
