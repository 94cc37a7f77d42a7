"""Qwen2-VL's image processing, from a checkpoint's preprocessor_config.json, in numpy and PIL.

    processor = ImageProcessor.from_directory(directory)
    pixel_values, image_grid_thw = processor.pixel_values([view_HW3_uint8, ...])

What transformers' Qwen2VLImageProcessor(Pil) does, step for step, so that usjax's inputs equal its:
each view is resized with PIL to `smart_resize`'s size (both sides multiples of patch x merge,
pixels within [min_pixels, max_pixels], aspect ratio kept), rescaled by 1/255, normalised with the
checkpoint's mean and std, repeated over temporal_patch frames, and cut into patches whose rows come
in merge-window order (each merge x merge window's patches consecutive) and whose features are
(channel, frame, row, column). image_grid_thw is [1, h / patch, w / patch] per view.

usjax's model patchifies inside the step (usjax.models.vision.patchify: raster order, features
(frame, row, column, channel)) from uint8 views the Grain pipeline has already sized; `hf_rows`
reorders its output into transformers' rows, which is how the tests hold the two equal.
"""
import dataclasses
import math
import os

import numpy as np
from PIL import Image

from usjax.hf import config as hf_config

CONFIG_FILE = "preprocessor_config.json"
RESAMPLE = {0: Image.NEAREST, 1: Image.LANCZOS, 2: Image.BILINEAR, 3: Image.BICUBIC}
MAX_ASPECT_RATIO = 200  # transformers refuses longer views


class ImageProcessorError(ValueError):
    """preprocessor_config.json asks for processing usjax does not reproduce."""


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The (height, width) Qwen2-VL resizes a view to: multiples of `factor`, pixel count in range."""
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ImageProcessorError(f"a {height}x{width} view has an aspect ratio above {MAX_ASPECT_RATIO}, "
                                  f"which Qwen2-VL's processor refuses; crop it")
    h, w = round(height / factor) * factor, round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


@dataclasses.dataclass(frozen=True)
class ImageProcessor:
    patch: int = 14
    temporal_patch: int = 2
    merge: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280
    image_mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    image_std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    resample: int = 3
    rescale_factor: float = 1 / 255

    @classmethod
    def from_directory(cls, directory: str) -> "ImageProcessor":
        raw = hf_config.read_json(directory, CONFIG_FILE)
        return cls.from_dict(raw, os.path.join(directory, CONFIG_FILE))

    @classmethod
    def from_dict(cls, raw: dict, path: str) -> "ImageProcessor":
        for flag in ("do_resize", "do_rescale", "do_normalize"):
            if raw.get(flag, True) is not True:
                raise ImageProcessorError(f"{path}: {flag} = {raw[flag]!r} is not supported; usjax reproduces "
                                          f"Qwen2-VL's processing with resize, rescale and normalise all on")
        resample = raw.get("resample", 3)
        if resample not in RESAMPLE:
            raise ImageProcessorError(f"{path}: resample = {resample!r} is not supported; usjax implements "
                                      f"PIL's {sorted(RESAMPLE)} (3 = bicubic, Qwen2-VL's)")
        size = raw.get("size") or {}
        fields = dict(patch=raw.get("patch_size", 14), temporal_patch=raw.get("temporal_patch_size", 2),
                      merge=raw.get("merge_size", 2),
                      min_pixels=raw.get("min_pixels", size.get("shortest_edge", cls.min_pixels)),
                      max_pixels=raw.get("max_pixels", size.get("longest_edge", cls.max_pixels)),
                      image_mean=tuple(raw.get("image_mean", cls.image_mean)),
                      image_std=tuple(raw.get("image_std", cls.image_std)), resample=resample,
                      rescale_factor=raw.get("rescale_factor", cls.rescale_factor))
        for key in ("image_mean", "image_std"):
            if len(fields[key]) != 3:
                raise ImageProcessorError(f"{path}: {key} = {list(fields[key])} needs one value per RGB channel")
        return cls(**fields)

    def check_matches(self, vision_fields: dict, directory: str) -> None:
        """The processor must patch as config.json's vision tower embeds."""
        for ours, theirs in (("patch", "patch"), ("temporal_patch", "temporal_patch"), ("merge", "merge")):
            if getattr(self, ours) != vision_fields[theirs]:
                raise ImageProcessorError(
                    f"{os.path.join(directory, CONFIG_FILE)}: {ours} = {getattr(self, ours)} but config.json's "
                    f"vision_config has {vision_fields[theirs]}; the two files must describe the same patches")

    def resize(self, view_HW3: np.ndarray) -> np.ndarray:
        """uint8 [H, W, 3] -> uint8 [h, w, 3] at smart_resize's size (PIL, the configured filter)."""
        height, width = view_HW3.shape[:2]
        h, w = smart_resize(height, width, self.patch * self.merge, self.min_pixels, self.max_pixels)
        return np.asarray(Image.fromarray(view_HW3).resize((w, h), RESAMPLE[self.resample]))

    def normalise(self, view_HW3: np.ndarray) -> np.ndarray:
        """uint8 -> float32, rescaled (in float64, as transformers) and normalised per channel."""
        x = (view_HW3.astype(np.float64) * self.rescale_factor).astype(np.float32)
        return (x - np.asarray(self.image_mean, np.float32)) / np.asarray(self.image_std, np.float32)

    def patches(self, view_HW3: np.ndarray) -> np.ndarray:
        """One resized, normalised view -> [h/p * w/p, 3 * T * p * p] in transformers' order."""
        p, m, T = self.patch, self.merge, self.temporal_patch
        h, w = view_HW3.shape[0] // p, view_HW3.shape[1] // p
        x = view_HW3.transpose(2, 0, 1).reshape(3, h // m, m, p, w // m, m, p)
        x = x.transpose(1, 4, 2, 5, 0, 3, 6)  # [h/m, w/m, m, m, C, p, p]
        x = np.broadcast_to(x[:, :, :, :, :, None], x.shape[:5] + (T,) + x.shape[5:])
        return x.reshape(h * w, 3 * T * p * p)

    def pixel_values(self, views: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(pixel_values float32 [sum t*h*w, 3*T*p*p], image_grid_thw int64 [n, 3]) of uint8 views."""
        rows, grids = [], []
        for view in views:
            resized = self.normalise(self.resize(view))
            rows.append(self.patches(resized))
            grids.append((1, resized.shape[0] // self.patch, resized.shape[1] // self.patch))
        return np.concatenate(rows), np.asarray(grids, np.int64)


def hf_rows(patches_NHWF: np.ndarray, merge: int, temporal_patch: int, patch: int) -> np.ndarray:
    """usjax.models.vision.patchify's [N, gh, gw, (T, p, p, C)] -> transformers' pixel_values rows
    [N * gh * gw, (C, T, p, p)], views one after another, merge windows consecutive."""
    N, gh, gw, _ = patches_NHWF.shape
    x = patches_NHWF.reshape(N, gh // merge, merge, gw // merge, merge, temporal_patch, patch, patch, 3)
    x = x.transpose(0, 1, 3, 2, 4, 8, 5, 6, 7)  # [N, gh/m, gw/m, m, m, C, T, p, p]
    return x.reshape(N * gh * gw, 3 * temporal_patch * patch * patch)
