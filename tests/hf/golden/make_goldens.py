"""Golden files for usjax's Hugging Face parity tests, made by transformers itself.

Run in the peer environment (../shared/peer/README.md: torch, transformers, peft), from the
repository root:

    /path/to/peer-venv/bin/python tests/hf/golden/make_goldens.py            # checkpoints + references
    /path/to/peer-venv/bin/python tests/hf/golden/make_goldens.py --exports DIR
        # loads usjax's exports in DIR (written by `python -m tests.hf.write_exports DIR`) with
        # transformers and PEFT and records their logits (exports.json / exports_logits.npz)

It writes, under tests/hf/golden/:
- tiny_tied/, tiny_untied/: two tiny Qwen2-VL checkpoints from `Qwen2VLForConditionalGeneration`
  with random weights and `save_pretrained` (tied embeddings; separate unembedding, sharded into
  several safetensors files with model.safetensors.index.json), each with the tiny tokenizer and a
  preprocessor config (tiny_tokenizer.py);
- references.npz / references.json: for a batch of multi-image exam prompts (rows with 3, 2, 1 and
  3 views), transformers' logits at the last 24 text positions of each row (the answer and its
  end token; references.json says where they start) and 32-token greedy generations;
- param_counts.json: parameter counts of transformers' models for the published Qwen2-VL 2B / 7B
  configurations, built on the meta device (no weights), and qwen2vl_2b_config/, qwen2vl_7b_config/:
  their config.json alone (what `launch/run.py --preflight` needs of a checkpoint).
The project's tests (no torch) compare usjax against these files.
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_tokenizer  # noqa: E402
from exams import QUESTIONS, ROWS, VIEW_SIDE  # noqa: E402

GENERATE_TOKENS = 32
KEPT_LOGITS = 24  # text positions per row whose logits are stored (the last ones: answer and end)
CHECKPOINTS = {
    "tiny_tied": dict(text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=1, mrope_section=[2, 3, 3]),
                      vision=dict(depth=1, embed_dim=32, num_heads=2), tie=True, shard=None),
    "tiny_untied": dict(text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2, mrope_section=[2, 3, 3]),
                        vision=dict(depth=2, embed_dim=32, num_heads=2), tie=False, shard="300KB"),
}
VOCAB = 384  # the tokenizer's 374 tokens, padded (as Qwen2-VL pads 151657 to 151936)
QWEN2_FIRST_SPECIAL = 151643  # <|endoftext|> in Qwen2's tokenizer; the other specials follow in order
# Published Qwen2-VL-2B/7B-Instruct config values (config.json of the released checkpoints).
PUBLISHED = {
    "qwen2vl_2b": dict(text=dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                 num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                                 mrope_section=[16, 24, 24]), hidden=1536, tie=True),
    "qwen2vl_7b": dict(text=dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                                 num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                                 mrope_section=[16, 24, 24]), hidden=3584, tie=False),
}


def qwen2vl_config(text: dict, vision: dict, hidden: int, tie: bool, special: dict):
    from transformers import Qwen2VLConfig
    text = dict(text)
    section = text.pop("mrope_section")
    text_config = dict(vocab_size=VOCAB, max_position_embeddings=32768, rms_norm_eps=1e-6,
                       rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": section},
                       tie_word_embeddings=tie, bos_token_id=None, eos_token_id=special["<|im_end|>"],
                       pad_token_id=special["<|endoftext|>"])
    text_config.update(text)
    vision_config = dict(depth=32, embed_dim=1280, num_heads=16, hidden_size=hidden, mlp_ratio=4,
                         patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    vision_config.update(vision)
    return Qwen2VLConfig(text_config=text_config, vision_config=vision_config, tie_word_embeddings=tie,
                         image_token_id=special["<|image_pad|>"], video_token_id=special["<|video_pad|>"],
                         vision_start_token_id=special["<|vision_start|>"],
                         vision_end_token_id=special["<|vision_end|>"])


def randomise(model, seed: int):
    """Weights larger than transformers' init (std 0.02 gives near-uniform logits, where greedy
    decoding would hinge on ties): fan-in scaled normals, norms near 1, small biases."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name or "ln_q" in name:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.05 * noise)
            elif name.endswith("bias"):
                p.copy_(0.05 * noise)
            elif "embed_tokens" in name:
                p.copy_(noise)
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(noise * (1.5 / np.sqrt(fan_in)))


def base_images(count: int = 4) -> np.ndarray:
    """uint8 [count, side, side, 3]: speckled grey views with a bright disc, one tinted."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:VIEW_SIDE, :VIEW_SIDE]
    out = []
    for i in range(count):
        grey = rng.gamma(2.0, 40.0, (VIEW_SIDE, VIEW_SIDE))
        disc = (yy - 20 - 4 * i) ** 2 + (xx - 28 + 3 * i) ** 2 < (6 + 2 * i) ** 2
        grey = np.clip(grey * np.where(disc, 0.3, 1.0), 0, 255)
        rgb = np.repeat(grey[..., None], 3, axis=-1)
        if i == 3:
            rgb[..., 0] = np.clip(rgb[..., 0] * 1.3, 0, 255)
        out.append(rgb.astype(np.uint8))
    return np.stack(out)


def chat_text(num_views: int, question: str, answer: str | None) -> str:
    text = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            + "<|vision_start|><|image_pad|><|vision_end|>" * num_views + question
            + "<|im_end|>\n<|im_start|>assistant\n")
    return text if answer is None else text + answer + "<|im_end|>"


def processor_for(directory: str):
    """(image processor, tokenizer) of the checkpoint. Qwen2VLProcessor itself needs torchvision
    for its video processor, so `row_inputs` does its two steps: image pads expanded to the number
    of merged tokens of each image, then tokenization."""
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil
    return Qwen2VLImageProcessorPil.from_pretrained(directory), AutoTokenizer.from_pretrained(directory)


def row_inputs(processor, images, views, question, answer):
    image_processor, tokenizer = processor
    pixels = image_processor(images=[images[v] for v in views], return_tensors="pt")
    text = chat_text(len(views), QUESTIONS[question], answer)
    merged = image_processor.merge_size ** 2
    pieces = text.split("<|image_pad|>")
    counts = [int(g.prod()) // merged for g in pixels["image_grid_thw"]]
    text = pieces[0] + "".join("<|image_pad|>" * n + rest for n, rest in zip(counts, pieces[1:]))
    ids = tokenizer([text], return_tensors="pt")
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    return dict(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"],
                mm_token_type_ids=(ids["input_ids"] == image_id).int(), **pixels)


def text_start(input_ids, vision_end_id: int) -> int:
    """Index of the first token after the last view."""
    return int(np.nonzero(input_ids == vision_end_id)[0][-1]) + 1


def make_checkpoint(name: str, spec: dict, seed: int):
    from transformers import Qwen2VLForConditionalGeneration
    directory = os.path.join(HERE, name)
    special = tiny_tokenizer.write(directory)
    tiny_tokenizer.write_preprocessor_config(directory)
    config = qwen2vl_config(spec["text"], spec["vision"], spec["text"]["hidden_size"], spec["tie"], special)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).float().eval()
    randomise(model, seed)
    kwargs = {"max_shard_size": spec["shard"]} if spec["shard"] else {}
    model.save_pretrained(directory, **kwargs)
    reloaded = Qwen2VLForConditionalGeneration.from_pretrained(directory, attn_implementation="eager").eval()
    return reloaded, special


def references(model, special, directory):
    """Text-position logits and greedy generations of every row, one row at a time (no padding)."""
    processor = processor_for(directory)
    images = base_images()
    out, meta = {}, []
    for r, (views, question, answer) in enumerate(ROWS):
        inputs = row_inputs(processor, images, views, question, answer)
        ids = inputs["input_ids"][0].numpy()
        start = text_start(ids, special["<|vision_end|>"])
        with torch.no_grad():
            logits = model(**inputs).logits[0].float().numpy()
        # logits at position k predict token k + 1: keep those that predict the last text tokens
        kept_from = len(ids) - start - KEPT_LOGITS
        out[f"row{r}_input_ids"] = ids.astype(np.int32)
        out[f"row{r}_text_logits"] = logits[start + kept_from - 1:len(ids) - 1].astype(np.float32)
        prompt = row_inputs(processor, images, views, question, None)
        with torch.no_grad():
            gen = model.generate(**prompt, max_new_tokens=GENERATE_TOKENS, do_sample=False,
                                 eos_token_id=special["<|im_end|>"], pad_token_id=special["<|endoftext|>"],
                                 output_scores=True, return_dict_in_generate=True)
        new = gen.sequences[0, prompt["input_ids"].shape[1]:].numpy()
        gaps = [float(torch.topk(s[0], 2).values.diff().abs()) for s in gen.scores]
        out[f"row{r}_prompt_ids"] = prompt["input_ids"][0].numpy().astype(np.int32)
        out[f"row{r}_generated"] = new.astype(np.int32)
        meta.append(dict(views=list(views), text_start=start, text_len=len(ids) - start, logits_from=kept_from,
                         prompt_text_len=prompt["input_ids"].shape[1] - start,
                         generated=len(new), min_greedy_gap=min(gaps)))
    out["images"] = images
    return out, meta


def param_counts() -> dict:
    from transformers import Qwen2VLForConditionalGeneration
    special = {t: i for i, t in enumerate(tiny_tokenizer.SPECIAL_TOKENS)}
    counts = {}
    for name, spec in PUBLISHED.items():
        config = qwen2vl_config(spec["text"], {}, spec["hidden"], spec["tie"], special)
        with torch.device("meta"):
            model = Qwen2VLForConditionalGeneration(config)
        total = sum(p.numel() for p in model.parameters())  # tied weights are counted once
        counts[name] = dict(total=int(total), vision=int(sum(p.numel() for p in model.model.visual.parameters())))
    return counts


def write_published_configs() -> None:
    """config.json of the published 2B / 7B shapes (no weights): what --preflight reads."""
    special = {t: QWEN2_FIRST_SPECIAL + i for i, t in enumerate(tiny_tokenizer.SPECIAL_TOKENS)}
    for name, spec in PUBLISHED.items():
        config = qwen2vl_config(spec["text"], {}, spec["hidden"], spec["tie"], special)
        config.save_pretrained(os.path.join(HERE, f"{name}_config"))


def versions() -> dict:
    import transformers
    return dict(transformers=transformers.__version__, torch=torch.__version__,
                date=datetime.date.today().isoformat())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", default="", help="directory of usjax's exports to check")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.exports:
        import check_exports
        check_exports.main(args.exports, versions())
        return
    arrays, meta = {}, {"versions": versions(), "checkpoints": {}}
    for seed, (name, spec) in enumerate(CHECKPOINTS.items()):
        model, special = make_checkpoint(name, spec, seed)
        refs, rows = references(model, special, os.path.join(HERE, name))
        arrays.update({f"{name}/{k}": v for k, v in refs.items() if k != "images"})
        arrays["images"] = refs["images"]
        meta["checkpoints"][name] = dict(rows=rows, special_ids=special)
    np.savez_compressed(os.path.join(HERE, "references.npz"), **arrays)
    with open(os.path.join(HERE, "references.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(HERE, "param_counts.json"), "w") as f:
        json.dump({"versions": versions(), **param_counts()}, f, indent=1)
    write_published_configs()
    import processing_goldens  # image processor and chat template references (processing.npz/json)
    processing_goldens.write(HERE, versions())
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
