"""The study of issue 8: at matched training compute, is an architecture arm worth more than data?

    python launch/run.py --sweep=experiments/data_vs_architecture.py --parallel=2     # CPU-sized
    python launch/run.py --sweep=experiments/data_vs_architecture.py --list
    python launch/run.py --sweep=experiments/data_vs_architecture.py:size=tpu --backend=tpu ...

The baseline is the dense generative VLM trained from scratch on nested subsets of the train split
(EchoVLM's data fractions 10/20/40/50/70% plus 100%), each for the same number of passes, with
several seeds. Every other arm trains at the same data sizes with the baseline's training compute
at that size (matched compute):

    steps(arm, D) = round(baseline_steps(D) * F_baseline / F_arm)

where F is the arm module's `flops_per_example(mcfg, config)` (usjax/arms/<arm>/, the contract in usjax/arms/__init__.py) at the
arm's own config. The arms:
  moe, moe_region      EchoVLM's MoE decoder (4 experts, top-2), routing without / with the body system
  contrastive          Ultrasound-CLIP's dual encoder with the attribute graph (report text only)
  heads                NextGen-UIA's frozen backbone (the baseline run at the smallest D, like
                       finetune/lora below), adapters and task heads (lesion masks on)
  align_image          data arm: each image paired with its exam's report ("image" alignment)
  align_shuffled       data arm: half of the report pairings shuffled ("shuffled:0.5")
  finetune, lora       full fine-tuning vs LoRA (r=8, alpha=16) of the baseline run at the smallest
                       D (same seed; `train.init_from="run:<name>"`: launch runs it first). Their
                       steps continue that run so that base + fine-tuning compute equals the
                       baseline's at D; their results.json counts only the fine-tuning part.
The sweep's report (analysis/report.py, "Data vs architecture") fits the baseline's val loss,
`retrieval/image_to_report_R@10` and `classify/mean_accuracy` as saturating power laws of D and
reads off each arm's effective data multiplier with bootstrap intervals.

Sizes (`:size=cpu`, the default, or `:size=tpu`): the CPU size is s2 at 56 px, one view, 128 text
tokens, on the 1k corpus: 12 baseline runs (6 sizes x 2 seeds) and 8 arms at 20/40/70% (one seed),
36 runs. `estimated_minutes()` budgets it from measured per-run costs (below) at about 45 minutes
with --parallel=2 on an otherwise idle 2-core machine; other jobs on the cores stretch it (probe
runs at load 8-10 took 2-4x their idle time). The arm sizes leave room on both sides (an arm worth
2x at 70% would need 140% of the data: flagged as beyond the baseline's range). The TPU size is s7
at 112 px, 4 views, on the 10k corpus, with three seeds for every arm and every size.
"""
import dataclasses
import math

import ml_collections

from experiments import base
from launch import sweep as sweep_lib
from launch import tags


@dataclasses.dataclass(frozen=True)
class Size:
    corpus: str
    train_split: int            # train exams of the corpus (usjax.data.us_exams.splits)
    preset: str
    batch: int
    image_size: int
    views: int
    text_len: int
    vocab: int
    passes: int                 # passes over its D exams the baseline makes at every D
    baseline_fractions: tuple[float, ...]
    arm_fractions: tuple[float, ...]   # inside the baseline's range: the multiplier can be read
    baseline_seeds: tuple[int, ...]
    arm_seeds: tuple[int, ...]
    arm_exams: int
    generate_exams: int
    loss_batches: int


SIZES = {
    "cpu": Size(corpus="us_exams/1k", train_split=766, preset="s2", batch=16, image_size=56,
                views=1, text_len=128, vocab=1000, passes=6,
                baseline_fractions=(0.1, 0.2, 0.4, 0.5, 0.7, 1.0), arm_fractions=(0.2, 0.4, 0.7),
                baseline_seeds=(0, 1), arm_seeds=(0,), arm_exams=64, generate_exams=8,
                loss_batches=6),
    "tpu": Size(corpus="us_exams/10k", train_split=8022, preset="s7", batch=128, image_size=112,
                views=4, text_len=192, vocab=2000, passes=10,
                baseline_fractions=(0.1, 0.2, 0.4, 0.5, 0.7, 1.0),
                arm_fractions=(0.2, 0.4, 0.5, 0.7, 1.0), baseline_seeds=(0, 1, 2),
                arm_seeds=(0, 1, 2), arm_exams=256, generate_exams=64, loss_batches=8),
}
BASELINE = "baseline"
# Arms that start from the baseline run at the smallest D (same seed) and continue it: the base
# run's compute counts against their budget.
FINE_TUNING_ARMS = ("finetune", "lora", "heads")
# Arm name -> config overrides (the baseline is base.py's dense generative model from scratch).
ARMS = {
    "moe": {"model.moe.experts": 4, "model.moe.top_k": 2},
    "moe_region": {"model.moe.experts": 4, "model.moe.top_k": 2,
                   "model.moe.region_routing": True},
    "contrastive": {"arm": "contrastive", "data.tasks.report": 1.0, "data.tasks.vqa": 0.0,
                    "data.tasks.classify": 0.0},
    "heads": {"arm": "heads", "data.with_masks": True},
    "align_image": {"data.alignment": "image"},
    "align_shuffled": {"data.alignment": "shuffled:0.5"},
    "finetune": {"train.mode": "finetune"},
    "lora": {"train.mode": "lora", "model.lora.rank": 8, "model.lora.alpha": 16.0},
}
NAMES = {"data.num_train_exams": "d"}

# Measured on this 2-core machine with --parallel=2 (the quickstart's 16 runs, s0..s3 at the CPU
# size's shapes, 13.0 min in all): about 80 s per run outside training (35 s of process start and
# imports, 45 s of set-up, compiles and the validation loss), and per training step a floor (data
# pipeline, dispatch) plus a part that grows with the model's FLOPs (s0: 0.10 s, s2: 0.22 s per step
# at 54 and 193 MFLOP per example). Matched compute gives cheap arms (heads: ~16x fewer FLOPs per
# example) many more steps, so the floor matters. Evaluation beyond the loss (probe runs of this
# sweep at load 8): a generative run scores eval.arm_exams exams against each other's reports and
# every class name by likelihood and generates a few reports (~30 s); the other arms embed or
# classify the exams once (~10 s).
RUN_OVERHEAD_SECONDS = 80.0
STEP_FLOOR_SECONDS = 0.05
STEP_SECONDS_PER_MFLOP = 0.00088   # per MFLOP per example, at batch 16
EVAL_SECONDS = {"generative": 30.0, "contrastive": 10.0, "heads": 10.0}
PREPARE_SECONDS = 120.0            # corpus (when missing), tokenizer, and the final report
CPU_BUDGET_MINUTES = 60.0


def _size(arg: str | None) -> Size:
    key = "cpu" if not arg else arg.removeprefix("size=")
    if key not in SIZES or (arg and not arg.startswith("size=")):
        raise ValueError(f"data_vs_architecture: unknown argument {arg!r}; use size=cpu or size=tpu")
    return SIZES[key]


def _base_config(size: Size) -> ml_collections.ConfigDict:
    c = base.get_config()
    c.data.name = size.corpus
    c.data.batch_size = size.batch
    c.data.image_size = size.image_size
    c.model.image_size = size.image_size
    c.data.max_images = size.views
    c.data.text_len = size.text_len
    c.data.vocab_size = size.vocab
    c.model.preset = size.preset
    c.train.steps = baseline_steps(size, size.train_split)  # each run's own value is in the grid
    # The study's measured recipe, pinned against later changes of base.py's defaults
    c.train.learning_rate = 3e-3
    c.data.task_warmup_fraction = 0.0
    c.train.loss_weighting = "token"
    c.train.label_loss_weight = 0.0
    c.train.log_every_steps = 50
    c.eval.every_steps = 1_000_000  # validation at the end only
    c.eval.loss_batches = size.loss_batches
    c.eval.generate_exams = size.generate_exams
    c.eval.arm_exams = size.arm_exams
    c.checkpoint.every_steps = 200  # and at the end: the fine-tuning arms start from it
    return c


def get_config(arg=None):
    return tags.declare(_base_config(_size(arg)), get_sweep(arg))


def train_exams(size: Size, fraction: float) -> int:
    return round(fraction * size.train_split)


def baseline_steps(size: Size, exams: int) -> int:
    return math.ceil(size.passes * exams / size.batch)


def with_overrides(config: ml_collections.ConfigDict, overrides: dict) -> ml_collections.ConfigDict:
    """A copy of config with dotted-key overrides applied (as the trainer's --config.a.b= flags)."""
    return sweep_lib.apply_overrides(config.copy_and_resolve_references(), overrides.items())


def flops_per_example(config: ml_collections.ConfigDict) -> float:
    """The arm module's analytic training FLOPs per example at this config (the contract in usjax/arms/__init__.py)."""
    from usjax import arms  # imported here: jax and the models load only when the grid is built
    from usjax.models import presets
    try:
        module = arms.get(config.arm)
    except ModuleNotFoundError as error:
        raise ValueError(f"data_vs_architecture: arm {config.arm!r} needs usjax/arms/{config.arm}.py"
                         f" with flops_per_example(mcfg, config) for matched compute ({error})"
                         ) from error
    return float(module.flops_per_example(presets.model_config(config.model), config))


def arm_flops(size: Size) -> dict[str, float]:
    """F per example of the baseline and of every arm."""
    config = _base_config(size)
    return {BASELINE: flops_per_example(config)} | {
        arm: flops_per_example(with_overrides(config, overrides)) for arm, overrides in ARMS.items()}


def matched_steps(size: Size, arm: str, exams: int, flops: dict[str, float]) -> int:
    """Steps that give the arm the baseline's training compute at this data size."""
    compute = baseline_steps(size, exams) * flops[BASELINE]
    if arm in FINE_TUNING_ARMS:  # the base run's compute is part of the budget
        compute -= baseline_steps(size, train_exams(size, min(size.baseline_fractions))) * flops[
            BASELINE]
    return max(1, round(compute / flops[arm]))


def run_name(exams: int, seed: int, arm: str) -> str:
    """The sweep's name for a run (launch/sweep.py: one label per product key, then the arm)."""
    return f"d{exams}-seed{seed}-{arm}"


def get_sweep(arg=None):
    size = _size(arg)
    flops = arm_flops(size)
    smallest = train_exams(size, min(size.baseline_fractions))
    grids = [dict(product={"data.num_train_exams": [train_exams(size, fraction)],
                           "seed": list(size.baseline_seeds)},
                  arms={BASELINE: {"train.steps": baseline_steps(size, train_exams(size, fraction))}},
                  names=NAMES)
             for fraction in size.baseline_fractions]
    for fraction in size.arm_fractions:
        exams = train_exams(size, fraction)
        for seed in size.arm_seeds:
            arms = {}
            for arm, overrides in ARMS.items():
                arms[arm] = overrides | {"train.steps": matched_steps(size, arm, exams, flops)}
                if arm in FINE_TUNING_ARMS:
                    base_seed = seed if seed in size.baseline_seeds else size.baseline_seeds[0]
                    arms[arm]["train.init_from"] = f"run:{run_name(smallest, base_seed, BASELINE)}"
            grids.append(dict(product={"data.num_train_exams": [exams], "seed": [seed]},
                              arms=arms, names=NAMES))
    return grids


def estimated_minutes(arg=None, parallel: int = 2) -> float:
    """Wall-clock estimate of the whole sweep on this 2-core machine, from the measured costs
    above (meaningful for the CPU size only)."""
    size = _size(arg)
    flops = arm_flops(size)
    config = _base_config(size)
    seconds = 0.0
    for grid in get_sweep(arg):
        runs_per_arm = math.prod(len(values) for values in grid["product"].values())
        for arm, overrides in grid["arms"].items():
            family = with_overrides(config, overrides).arm
            step = STEP_FLOOR_SECONDS + STEP_SECONDS_PER_MFLOP * flops[arm] / 1e6
            seconds += runs_per_arm * (RUN_OVERHEAD_SECONDS + EVAL_SECONDS[family] +
                                       overrides["train.steps"] * step)
    return (seconds / parallel + PREPARE_SECONDS) / 60.0


def prepare(config):
    """Build the corpus and its tokenizer once, before runs start (in parallel they would each
    try to build them)."""
    from usjax.data import pipeline
    pipeline.tokenizer_for(config)  # builds the corpus first when it is missing
