"""LoRA-tuned imports exported as a PEFT adapter and as a merged checkpoint (usjax.hf.export) are the
files transformers and PEFT loaded when the goldens were made (golden/check_exports.py: sha256 in
exports.json) and give, in transformers, usjax's logits (exports_logits.npz); usjax re-imports both
bit-identically; an interrupted export leaves nothing; exports usjax cannot express are refused."""
import json
import os

import numpy as np
import pytest
from flax import nnx

from tests.hf import write_exports
from tests.hf.conftest import CHECKPOINTS, GOLDEN, checkpoint_dir, imported_config
from usjax.hf import export, weights
from usjax.models import lora, vlm

REL_TOL = 1e-4  # max |usjax - transformers| over a row, relative to the row's largest |logit|


@pytest.fixture(scope="module")
def written(golden, tmp_path_factory):
    """Both checkpoints' tuned models and their exports, as `python -m tests.hf.write_exports DIR` writes them."""
    root = str(tmp_path_factory.mktemp("exports"))
    models = {name: write_exports.tuned_model(golden, name) for name in CHECKPOINTS}
    logits = {name: write_exports.write(root, name, golden, models[name]) for name in CHECKPOINTS}
    with open(os.path.join(GOLDEN, "exports.json")) as f:
        meta = json.load(f)
    return dict(root=root, models=models, logits=logits, meta=meta,
                transformers=dict(np.load(os.path.join(GOLDEN, "exports_logits.npz"))))


def relative_error(ours: dict, theirs: dict) -> float:
    """ours: row -> all kept positions; theirs: row -> the last few of them."""
    return max(float(np.abs(ours[k][-len(v):] - v).max() / np.abs(v).max()) for k, v in theirs.items())


def transformers_logits(written, name, kind):
    prefix = f"{name}/{kind}/"
    return {k[len(prefix):]: v for k, v in written["transformers"].items() if k.startswith(prefix)}


def assert_leaves_equal(ours: dict, theirs: dict):
    flat_ours, flat_theirs = nnx.traversals.flatten_mapping(ours), nnx.traversals.flatten_mapping(theirs)
    assert set(flat_ours) == set(flat_theirs)
    for path, value in flat_ours.items():
        assert np.array_equal(np.asarray(value), np.asarray(flat_theirs[path])), "/".join(map(str, path))


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_the_exports_are_the_bytes_transformers_and_peft_loaded(written, name):
    for kind in ("adapter", "merged"):
        ours = write_exports.file_hashes(os.path.join(written["root"], name, kind))
        assert ours == written["meta"]["checkpoints"][name][kind]["sha256"], kind


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_transformers_and_peft_give_usjax_logits_on_the_exports(golden, written, name):
    ours = written["logits"][name]
    for kind in ("adapter", "merged"):
        assert relative_error(ours, transformers_logits(written, name, kind)) < REL_TOL, kind
        # as measured by check_exports over all kept positions against usjax's logits of the time
        assert written["meta"]["checkpoints"][name][kind]["max_relative_error_vs_usjax"] < REL_TOL, kind
    # the adapters matter: the tuned logits are far (relative to the tolerance) from the base model's
    base = {k: golden[1][f"{name}/{k}_text_logits"] for k in ours}
    assert relative_error(ours, base) > 1000 * REL_TOL


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_reimporting_the_merged_export_gives_the_merged_parameters_bit_for_bit(golden, written, name):
    tuned = written["models"][name]
    fresh = vlm.VisionLanguageModel(imported_config(golden, name), rngs=nnx.Rngs(1))
    weights.load_into(fresh, os.path.join(written["root"], name, "merged"))
    merged = export.merged_params(tuned)
    assert_leaves_equal(nnx.to_pure_dict(nnx.state(fresh, nnx.Param)),
                        nnx.traversals.unflatten_mapping(merged))
    # the host merge is usjax's merge (lora.merge, a float32 XLA einsum) up to rounding
    reference = nnx.clone(tuned)
    lora.merge(reference)
    flat = nnx.traversals.flatten_mapping(nnx.to_pure_dict(nnx.state(reference, nnx.Param)))
    for path, value in merged.items():
        np.testing.assert_allclose(value, np.asarray(flat[path]), rtol=1e-6, atol=1e-6, err_msg="/".join(path))
    kernel = ("merger", "fc1", "kernel")
    assert not np.array_equal(merged[kernel], np.asarray(tuned.merger.fc1.kernel[...]))  # the adapter is in


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_importing_the_adapter_export_gives_the_factors_bit_for_bit(golden, written, name):
    tuned = written["models"][name]
    fresh = vlm.VisionLanguageModel(imported_config(golden, name, lora=write_exports.LORA), rngs=nnx.Rngs(1))
    factors = lambda m: nnx.to_pure_dict(nnx.state(m, nnx.LoRAParam))  # noqa: E731
    assert not np.array_equal(*(np.asarray(factors(m)["merger"]["fc1"]["lora"]["b"]) for m in (fresh, tuned)))
    export.import_adapter(fresh, os.path.join(written["root"], name, "adapter"))
    assert_leaves_equal(factors(fresh), factors(tuned))


def test_an_adapter_of_another_rank_is_refused_naming_r(golden, written):
    other = vlm.VisionLanguageModel(imported_config(golden, "tiny_tied", lora={**write_exports.LORA, "rank": 2}),
                                    rngs=nnx.Rngs(1))
    before = nnx.to_pure_dict(nnx.state(other, nnx.LoRAParam))
    with pytest.raises(ValueError, match="r = 4 but the model's adapters have 2"):
        export.import_adapter(other, os.path.join(written["root"], "tiny_tied", "adapter"))
    assert_leaves_equal(nnx.to_pure_dict(nnx.state(other, nnx.LoRAParam)), before)


def test_an_adapter_without_a_module_the_model_adapts_is_refused_naming_its_key(golden, written):
    targets = write_exports.LORA["targets"] + "|vision/blocks/proj"
    settings = {**write_exports.LORA, "targets": targets}
    other = vlm.VisionLanguageModel(imported_config(golden, "tiny_tied", lora=settings), rngs=nnx.Rngs(1))
    before = nnx.to_pure_dict(nnx.state(other, nnx.LoRAParam))
    with pytest.raises(ValueError, match=r"base_model\.model\.model\.visual\.blocks\.0\.attn\.proj\.lora_A\.weight is "
                                         r"missing"):
        export.import_adapter(other, os.path.join(written["root"], "tiny_tied", "adapter"))
    assert_leaves_equal(nnx.to_pure_dict(nnx.state(other, nnx.LoRAParam)), before)  # nothing half-imported


def test_the_same_model_exported_twice_gives_the_same_bytes(golden, written, tmp_path):
    name = "tiny_untied"
    write_exports.write(str(tmp_path), name, golden, written["models"][name])
    for kind in ("adapter", "merged"):
        assert (write_exports.file_hashes(str(tmp_path / name / kind)) ==
                write_exports.file_hashes(os.path.join(written["root"], name, kind))), kind


@pytest.mark.parametrize("kind", ["merged", "adapter"])
def test_an_interrupted_export_leaves_no_directory(written, tmp_path, monkeypatch, kind):
    model, calls = written["models"]["tiny_untied"], []

    def failing_save(arrays, path, metadata=None):
        calls.append(path)
        with open(path, "wb") as f:
            f.write(b"half a file")
        if len(calls) == 2 or kind == "adapter":
            raise KeyboardInterrupt  # even an interrupt: the temporary directory goes

    monkeypatch.setattr(export, "save_file", failing_save)
    with pytest.raises(KeyboardInterrupt):
        if kind == "merged":
            export.export_merged(model, str(tmp_path / "out"), checkpoint_dir("tiny_untied"), max_shard_bytes=300_000)
        else:
            export.export_adapter(model, str(tmp_path / "out"), "tiny_untied")
    assert calls and os.listdir(tmp_path) == []  # neither the export nor its temporary directory


def test_exporting_an_adapter_from_a_model_without_one_says_what_to_do(golden, tmp_path):
    model = vlm.VisionLanguageModel(imported_config(golden, "tiny_tied"), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="no LoRA adapters to export; build it with config.model.lora.rank > 0"):
        export.export_adapter(model, str(tmp_path / "adapter"), "tiny_tied")
    assert os.listdir(tmp_path) == []


def test_an_adapter_on_the_patch_embedding_is_refused_naming_it(golden, tmp_path):
    settings = dict(rank=4, targets="vision/patch_embed")
    model = vlm.VisionLanguageModel(imported_config(golden, "tiny_tied", lora=settings), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="the adapter on vision/patch_embed has no Hugging Face Linear module"):
        export.export_adapter(model, str(tmp_path / "adapter"), "tiny_tied")
    assert os.listdir(tmp_path) == []


def test_a_merged_export_of_a_model_with_moe_experts_is_refused_naming_a_parameter(golden, tmp_path):
    model = vlm.VisionLanguageModel(imported_config(golden, "tiny_tied", moe=dict(experts=2)), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"parameter decoder/layers/moe/\S+ has no Hugging Face Qwen2-VL tensor"):
        export.export_merged(model, str(tmp_path / "merged"), checkpoint_dir("tiny_tied"))
    assert os.listdir(tmp_path) == []


def test_a_merged_export_from_another_checkpoints_source_is_refused(golden, written, tmp_path):
    with pytest.raises(ValueError, match="the model does not match source_dir"):
        export.export_merged(written["models"]["tiny_tied"], str(tmp_path / "merged"), checkpoint_dir("tiny_untied"))
    assert os.listdir(tmp_path) == []


def test_exporting_over_an_existing_directory_is_refused(written, tmp_path):
    (tmp_path / "adapter").mkdir()
    with pytest.raises(FileExistsError, match="export into a new directory"):
        export.export_adapter(written["models"]["tiny_tied"], str(tmp_path / "adapter"), "tiny_tied")
    assert os.listdir(tmp_path / "adapter") == []
