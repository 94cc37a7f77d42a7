"""transformers and PEFT load usjax's exports (peer environment; `make_goldens.py --exports DIR` runs it).

For each tiny checkpoint in DIR (written by `python -m tests.hf.write_exports DIR`):
- adapter/: the golden checkpoint plus `PeftModel.from_pretrained(base, DIR/<name>/adapter)`. PEFT
  warns about missing adapter keys only and drops unexpected ones silently, so the loaded adapter
  state (get_peft_model_state_dict) is compared with the file: the same keys, the same values.
  PEFT's own save_pretrained of the loaded model must give the same adapter_config.json (up to
  target_modules' order, which PEFT takes from a set) and the same tensors;
- merged/: `Qwen2VLForConditionalGeneration.from_pretrained(DIR/<name>/merged)` with no missing,
  unexpected or mismatched weights, float32, every parameter equal to the file's tensor; and close to
  PEFT's own merge_and_unload of the adapter (a float32 sum in torch, so not bit-equal);
- logits of the reference rows at the positions references.npz keeps.
Writes tests/hf/golden/exports.json (versions, sha256 of the exported files, the max relative error
of transformers' logits vs usjax's (DIR/<name>/usjax_logits.npz), over all kept positions) and
exports_logits.npz (transformers' logits, float32, the last STORED positions of each row: all 24
would make the file ~550 KB), which tests/hf/test_hf_export.py reads without torch.
"""
import hashlib
import json
import os
import tempfile
import warnings

import numpy as np
import torch

import make_goldens

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = tuple(make_goldens.CHECKPOINTS)
STORED = 6  # positions per row stored in exports_logits.npz (the answer's last tokens and its end)
HASHED = (".safetensors", ".json")


def sha256s(directory: str) -> dict[str, str]:
    out = {}
    for f in sorted(os.listdir(directory)):
        if f.endswith(HASHED):
            with open(os.path.join(directory, f), "rb") as handle:
                out[f] = hashlib.sha256(handle.read()).hexdigest()
    return out


def row_logits(model, name: str) -> dict[str, np.ndarray]:
    """Logits at the positions references.npz keeps, for the rows make_goldens scored (one at a time)."""
    directory = os.path.join(HERE, name)
    processor = make_goldens.processor_for(directory)
    images = make_goldens.base_images()
    vision_end = processor[1].convert_tokens_to_ids("<|vision_end|>")
    out = {}
    for r, (views, question, answer) in enumerate(make_goldens.ROWS):
        inputs = make_goldens.row_inputs(processor, images, views, question, answer)
        ids = inputs["input_ids"][0].numpy()
        start = make_goldens.text_start(ids, vision_end)
        kept_from = len(ids) - start - make_goldens.KEPT_LOGITS
        with torch.no_grad():
            logits = model(**inputs).logits[0].float().numpy()
        out[f"row{r}"] = logits[start + kept_from - 1:len(ids) - 1].astype(np.float32)
    return out


def file_tensors(directory: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    out = {}
    for f in sorted(os.listdir(directory)):
        if f.endswith(".safetensors"):
            out.update(load_file(os.path.join(directory, f)))
    return out


def base_model(name: str):
    from transformers import Qwen2VLForConditionalGeneration
    return Qwen2VLForConditionalGeneration.from_pretrained(os.path.join(HERE, name), attn_implementation="eager")


def load_adapter(name: str, adapter: str):
    from peft import PeftModel, get_peft_model_state_dict
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base_model(name), adapter)
    problems = [str(w.message) for w in caught if "adapter keys" in str(w.message)]
    assert not problems, f"PEFT loading {adapter}: {problems}"
    loaded, stored = get_peft_model_state_dict(model), file_tensors(adapter)
    assert set(loaded) == set(stored), (f"PEFT loading {adapter}: missing {sorted(set(stored) - set(loaded))[:3]}, "
                                        f"unexpected {sorted(set(loaded) - set(stored))[:3]}")
    different = [k for k in stored if not torch.equal(loaded[k], stored[k])]
    assert not different, f"PEFT loading {adapter}: {different[0]} differs from the file"
    return model.eval(), peft_rewrites(model, adapter, stored)


def peft_rewrites(model, adapter: str, stored: dict) -> bool:
    """PEFT's save_pretrained of what it loaded: the same config and tensors; returns whether the
    adapter_model.safetensors bytes are the same too."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        with open(os.path.join(tmp, "adapter_config.json")) as f:
            theirs = json.load(f)
        with open(os.path.join(adapter, "adapter_config.json")) as f:
            ours = json.load(f)
        for config in (theirs, ours):
            config["target_modules"] = sorted(config["target_modules"])
        different = sorted(k for k in set(theirs) | set(ours) if theirs.get(k, "<absent>") != ours.get(k, "<absent>"))
        assert not different, (f"{adapter}/adapter_config.json differs from PEFT's in {different}: "
                               f"{ {k: (ours.get(k), theirs.get(k)) for k in different} }")
        resaved = file_tensors(tmp)
        assert set(resaved) == set(stored) and all(torch.equal(resaved[k], stored[k]) for k in stored)
        with open(os.path.join(tmp, "adapter_model.safetensors"), "rb") as a, \
                open(os.path.join(adapter, "adapter_model.safetensors"), "rb") as b:
            return a.read() == b.read()


def load_merged(merged: str):
    from transformers import Qwen2VLForConditionalGeneration
    model, info = Qwen2VLForConditionalGeneration.from_pretrained(merged, attn_implementation="eager",
                                                                  output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"transformers loading {merged}: {bad}"
    state = {make_goldens_name(k): v for k, v in model.state_dict().items()}
    stored = file_tensors(merged)
    assert all(v.dtype == torch.float32 for v in state.values()), f"{merged}: not loaded as float32"
    different = [k for k in stored if not torch.equal(state[k], stored[k])]
    assert not different, f"transformers loading {merged}: {different[0]} differs from the file"
    return model.eval()


def make_goldens_name(key: str) -> str:
    """A state-dict key in the published spelling save_pretrained writes (model.visual. -> visual.,
    model.language_model. -> model.)."""
    for new, old in (("model.language_model.", "model."), ("model.visual.", "visual.")):
        if key.startswith(new):
            return old + key[len(new):]
    return key


def peft_merge_gap(adapted, merged) -> float:
    """max |PEFT's merge_and_unload - usjax's merged weight| over all weights (after the logits:
    merging changes the PEFT model)."""
    ours = merged.state_dict()
    theirs = adapted.merge_and_unload().state_dict()
    assert set(ours) == set(theirs)
    return max(float((ours[k] - theirs[k]).abs().max()) for k in ours)


def relative_error(ours: dict, theirs: dict) -> float:
    """Per row: max |ours - theirs| / max |theirs|; the largest over the rows."""
    return max(float(np.abs(ours[k] - theirs[k]).max() / np.abs(theirs[k]).max()) for k in theirs)


def main(exports_dir: str, versions: dict) -> None:
    import peft
    summary = {"versions": {**versions, "peft": peft.__version__}, "stored_positions": STORED, "checkpoints": {}}
    arrays = {}
    for name in NAMES:
        root = os.path.join(exports_dir, name)
        usjax_logits = dict(np.load(os.path.join(root, "usjax_logits.npz")))
        adapted, same_bytes = load_adapter(name, os.path.join(root, "adapter"))
        merged = load_merged(os.path.join(root, "merged"))
        entry = {}
        for kind, model in (("adapter", adapted), ("merged", merged)):
            logits = row_logits(model, name)
            arrays.update({f"{name}/{kind}/{k}": v[-STORED:] for k, v in logits.items()})
            entry[kind] = dict(sha256=sha256s(os.path.join(root, kind)),
                               max_relative_error_vs_usjax=relative_error(usjax_logits, logits))
        entry["adapter"]["peft_resave_same_bytes"] = same_bytes
        entry["merged"]["max_abs_diff_vs_peft_merge_and_unload"] = peft_merge_gap(adapted, merged)
        summary["checkpoints"][name] = entry
        for kind in ("adapter", "merged"):
            print(f"{name} {kind}: loaded by transformers{' + PEFT' if kind == 'adapter' else ''} with no "
                  f"missing/unexpected keys; max relative error vs usjax "
                  f"{entry[kind]['max_relative_error_vs_usjax']:.2e}")
        print(f"{name}: PEFT re-saves the adapter byte for byte: {same_bytes}; merged weights vs PEFT's "
              f"merge_and_unload: max abs diff {entry['merged']['max_abs_diff_vs_peft_merge_and_unload']:.2e}")
    np.savez_compressed(os.path.join(HERE, "exports_logits.npz"), **arrays)
    with open(os.path.join(HERE, "exports.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
