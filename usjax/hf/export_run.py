"""Export a finished run that started from a Hugging Face checkpoint, for transformers, PEFT and vLLM.

    python -m usjax.hf.export_run --workdir=W --out=DIR [--what=adapter,merged]

Reads the run's config from W/results.json and its latest checkpoint, rebuilds the Qwen2-VL
network (without training-only heads such as train.label_loss_weight's label head: they are not
part of what transformers computes), and writes DIR/adapter (a PEFT adapter, LoRA runs only) and
DIR/merged (a full checkpoint with the adapters folded in) with usjax.hf.export.
"""
import os

import jax
import ml_collections
from absl import app, flags
from etils import epath
from flax import nnx

from usjax.hf import experiment as hf_experiment
from usjax.hf import export
from usjax.models import vlm
from usjax.train import model_setup, results

_WORKDIR = flags.DEFINE_string("workdir", None, "workdir of a finished run with model.init_from_hf", required=True)
_OUT = flags.DEFINE_string("out", None, "directory to create; adapter/ and merged/ go inside", required=True)
_WHAT = flags.DEFINE_list("what", ["adapter", "merged"], "what to export: adapter (LoRA runs), merged")

KINDS = ("adapter", "merged")


def run_config(workdir: str) -> ml_collections.ConfigDict:
    path = epath.Path(workdir) / results.FILENAME
    if not path.exists():
        raise ValueError(f"{path} is missing: export a run that has finished (its results.json holds the config)")
    config = ml_collections.ConfigDict(results.read(workdir)["config"])
    if not hf_experiment.directory_of(config.model):
        raise ValueError(f"{workdir} was trained from scratch (no config.model.init_from_hf): its network has no "
                         f"Hugging Face checkpoint to export into")
    return config


def trained_model(workdir: str) -> tuple[vlm.VisionLanguageModel, ml_collections.ConfigDict]:
    """The run's network with its latest checkpoint's parameters (base and adapters)."""
    config = run_config(workdir)
    model = vlm.VisionLanguageModel(model_setup.model_config_of(config), rngs=nnx.Rngs(0))
    stored, where = model_setup.latest_saved_parameters(workdir)
    state = nnx.state(model, nnx.Param)

    def take(path, _):
        key = tuple(str(getattr(k, "key", k)) for k in path)
        if key not in stored:
            raise ValueError(f"{where} has no {'/'.join(key)}; export with the code version that trained it")
        return stored[key]

    nnx.replace_by_pure_dict(state, jax.tree_util.tree_map_with_path(take, nnx.to_pure_dict(state)))
    nnx.update(model, state)
    return model, config


def main(argv):
    del argv
    unknown = sorted(set(_WHAT.value) - set(KINDS))
    if unknown:
        raise app.UsageError(f"--what: {unknown[0]!r} is not one of {list(KINDS)}")
    model, config = trained_model(_WORKDIR.value)
    source = hf_experiment.directory_of(config.model)
    if "adapter" in _WHAT.value:
        modules = export.export_adapter(model, os.path.join(_OUT.value, "adapter"), source)
        print(f"{os.path.join(_OUT.value, 'adapter')}: PEFT adapter on {len(modules)} modules")
    if "merged" in _WHAT.value:
        files = export.export_merged(model, os.path.join(_OUT.value, "merged"), source)
        print(f"{os.path.join(_OUT.value, 'merged')}: merged checkpoint in {len(files)} file(s)")


if __name__ == "__main__":
    app.run(main)
