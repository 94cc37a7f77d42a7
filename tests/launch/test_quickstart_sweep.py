"""experiments/quickstart.py, README's main job: a 6 x 4 grid of model sizes and nested data
sizes whose steps follow D (a fixed number of passes) and whose learning rate follows the width,
on a registered corpus with a tail, every run a valid config."""
import math
import os

import pytest

from experiments import quickstart
from launch import sweep as sweep_lib
from usjax.data import us_exams
from usjax.models import params, presets

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quickstart_is_six_sizes_over_1_5_decades_by_four_data_sizes_with_steps_following_d():
    sweep = sweep_lib.load(os.path.join(REPO, "experiments/quickstart.py"))
    cells = {(dict(run.overrides)["model.preset"], dict(run.overrides)["data.num_train_exams"])
             for run in sweep.runs}
    assert len(sweep.runs) == len(cells) == 24
    sizes = [params.count(presets.build(p, vocab_size=1000))["non_embedding"]
             for p in quickstart.MODEL_PRESETS]
    assert math.log10(max(sizes) / min(sizes)) >= 1.5
    assert quickstart.get_config().data.max_images >= 3  # exam-level: several views per exam
    assert {preset for preset, _ in cells} == set(quickstart.MODEL_PRESETS)
    assert all(preset in presets.PRESETS for preset in quickstart.MODEL_PRESETS)
    assert quickstart.TRAIN_EXAMS == sorted(quickstart.TRAIN_EXAMS)
    for run in sweep.runs:
        overrides = dict(run.overrides)
        exams, steps = overrides["data.num_train_exams"], overrides["train.steps"]
        assert steps == math.ceil(quickstart.PASSES * exams / quickstart.BATCH)


def test_quickstart_learning_rate_falls_as_one_over_width():
    sweep = sweep_lib.load(os.path.join(REPO, "experiments/quickstart.py"))
    for run in sweep.runs:
        overrides = dict(run.overrides)
        width = presets.build(overrides["model.preset"]).hidden
        assert overrides["train.learning_rate"] * width == pytest.approx(
            quickstart.PEAK_LR_AT_WIDTH_64 * 64)
    rates = sorted({dict(run.overrides)["train.learning_rate"] for run in sweep.runs})
    assert len(rates) == len(quickstart.MODEL_PRESETS)


def test_quickstart_corpus_is_registered_has_the_tail_and_holds_the_grid():
    config = quickstart.get_config()
    name = config.data.name.split("/")[1]
    corpus = next(c for c in us_exams.STANDARD_CONFIGS if c.name == name)
    assert corpus.generator_options["incidental_catalogue"] > 0
    # About 80% of the exams are train (usjax/data/us_exams/splits.py); leave a margin.
    assert quickstart.TRAIN_EXAMS[-1] <= 0.75 * corpus.num_exams
    sweep_lib.check_overrides(sweep_lib.load(os.path.join(REPO, "experiments/quickstart.py")),
                              config)


def test_changed_keys_get_their_own_sweep_folder():
    default = sweep_lib.load(os.path.join(REPO, "experiments/quickstart.py"))
    seed1 = sweep_lib.load(os.path.join(REPO, "experiments/quickstart.py:seed=1"))
    assert (default.name, seed1.name) == ("quickstart", "quickstart_seed_1")
    assert [r.name for r in default.runs] == [r.name for r in seed1.runs]
    assert sweep_lib.base_config(seed1).seed == 1
