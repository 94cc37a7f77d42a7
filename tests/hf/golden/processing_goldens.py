"""Golden files for usjax's Qwen2-VL image processing and chat layout, made by transformers.

Run in the peer environment from the repository root (make_goldens.py also runs it):

    /path/to/peer-venv/bin/python tests/hf/golden/processing_goldens.py

It writes tests/hf/golden/processing.npz (the test views as uint8 and transformers'
Qwen2VLImageProcessorPil outputs: pixel_values (first frame) and image_grid_thw one view at a time,
some with a smaller max_pixels, and the grids of all views in one call) and processing.json (versions, the chat template's token ids for
1-3 images and a question, tokenizer encode/decode references).
"""
import datetime
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_tokenizer  # noqa: E402

# (height, width): already a grid multiple, odd sizes, a tiny view smart_resize must enlarge
VIEW_SHAPES = ((56, 56), (61, 45), (20, 30), (42, 98))
SMALL_MAX_PIXELS = 56 * 84  # a second processor whose max_pixels shrinks the last view ...
SMALL_VIEWS = (3,)         # ... this one
SENTENCES = ("Liver: normal size and echotexture. No focal lesion.",
             "Thyroid: 12 mm – hypoechoic nodule, 5° tilt; TI-RADS 4.",
             "<|im_start|>user\nWhat is the echogenicity?<|im_end|>")
QUESTION = "What is the echogenicity of the lesion?"


def views() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in VIEW_SHAPES]


def processed(processor, images):
    """(pixel_values' first frame, image_grid_thw). A still view's frames are copies (checked here):
    the first is all a test needs, at half the file size."""
    out = processor(images=images, return_tensors="np")
    pixels = np.asarray(out["pixel_values"], np.float32)
    frames = pixels.reshape(len(pixels), 3, processor.temporal_patch_size, -1)
    assert (frames == frames[:, :, :1]).all(), "transformers no longer repeats a still view's frame"
    return np.ascontiguousarray(frames[:, :, 0]).reshape(len(pixels), -1), np.asarray(out["image_grid_thw"], np.int64)


def image_references(directory: str) -> dict:
    from transformers import Qwen2VLImageProcessorPil
    processor = Qwen2VLImageProcessorPil.from_pretrained(directory)
    small = Qwen2VLImageProcessorPil.from_pretrained(directory, max_pixels=SMALL_MAX_PIXELS)
    images = views()
    arrays = {}
    for i, image in enumerate(images):
        arrays[f"view{i}"] = image
        arrays[f"view{i}_pixel_values"], arrays[f"view{i}_grid_thw"] = processed(processor, [image])
        if i in SMALL_VIEWS:
            arrays[f"view{i}_small_pixel_values"], arrays[f"view{i}_small_grid_thw"] = processed(small, [image])
    # several views in one call: the single calls' rows one after another (the test checks ours so)
    together, arrays["all_grid_thw"] = processed(processor, images)
    assert np.array_equal(together, np.concatenate([arrays[f"view{i}_pixel_values"] for i in range(len(images))]))
    return arrays


def text_references(directory: str) -> dict:
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(directory)
    chats = {}
    for n in (1, 2, 3):
        content = [{"type": "image"}] * n + [{"type": "text", "text": QUESTION}]
        ids = tokenizer.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                            tokenize=True, return_dict=False)
        chats[str(n)] = [int(i) for i in (ids["input_ids"] if isinstance(ids, dict) else ids)]
    encoded = [tokenizer.encode(s, add_special_tokens=False) for s in SENTENCES]
    return dict(question=QUESTION, chat_template_ids=chats,
                sentences=list(SENTENCES), encoded=encoded,
                decoded=[tokenizer.decode(e, skip_special_tokens=True) for e in encoded])


def write(here: str, versions: dict) -> None:
    directory = os.path.join(here, "tiny_tied")
    np.savez_compressed(os.path.join(here, "processing.npz"), **image_references(directory))
    meta = dict(versions=versions, view_shapes=VIEW_SHAPES, small_max_pixels=SMALL_MAX_PIXELS,
                **text_references(directory))
    with open(os.path.join(here, "processing.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote processing.npz / processing.json ({len(VIEW_SHAPES)} views)")


if __name__ == "__main__":
    import transformers
    write(HERE, dict(transformers=transformers.__version__, date=datetime.date.today().isoformat()))
