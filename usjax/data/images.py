"""Exam-level image sets: choose views, decode, optionally augment, resize and pad to a square.

Views keep acquisition order. An exam with more views than `max_images` keeps a sorted random
subset during training (rng from the config seed and the element index) and evenly spaced views
in evaluation. Each view is scaled so its longer side is `size` (aspect ratio kept) and centred on
a black square; augmentation is a small random crop plus gain/contrast jitter (no flips: reports
name the side, and left/right is part of the finding).
"""
import io

import numpy as np
from PIL import Image


class ImageDecodeError(ValueError):
    """A view's bytes are not a readable image."""


def select_views(num_views: int, max_images: int, rng: np.random.Generator | None) -> list[int]:
    """Indices (ascending) of at most `max_images` of `num_views` views."""
    if num_views <= max_images:
        return list(range(num_views))
    if rng is None:
        return sorted({int(round(i)) for i in np.linspace(0, num_views - 1, max_images)})
    return sorted(int(i) for i in rng.choice(num_views, size=max_images, replace=False))


def decode(png: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except Exception as e:  # PIL raises several unrelated types for corrupt bytes
        raise ImageDecodeError(f"{type(e).__name__}: {e}") from e
    # Grey B-mode views stay one channel until the end: resizing them is then 3x cheaper.
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _random_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    keep = rng.uniform(0.85, 1.0, size=2)
    cw, ch = max(1, int(w * keep[0])), max(1, int(h * keep[1]))
    x0, y0 = int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1))
    return image.crop((x0, y0, x0 + cw, y0 + ch))


def _jitter_intensity(x_HW3: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, contrast = rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)
    mean = x_HW3.mean()
    return np.clip((x_HW3 - mean) * contrast + mean * gain, 0, 255)


def fit_square(image: Image.Image, size: int, augment_rng: np.random.Generator | None
               ) -> np.ndarray:
    """uint8 [size, size, 3]: the view (mode L or RGB) scaled to fit and centred, black
    elsewhere."""
    if augment_rng is not None:
        image = _random_crop(image, augment_rng)
    w, h = image.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        image = image.resize((nw, nh), Image.BILINEAR)
    view_HW3 = np.asarray(image)
    if augment_rng is not None:
        view_HW3 = _jitter_intensity(view_HW3.astype(np.float32), augment_rng).astype(np.uint8)
    if view_HW3.ndim == 2:  # grey: the same value in all three channels
        view_HW3 = view_HW3[:, :, None]
    out_SS3 = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out_SS3[top:top + nh, left:left + nw] = view_HW3
    return out_SS3


def exam_images(pngs: list[bytes], max_images: int, size: int,
                augment_rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [V, S, S, 3], image_mask bool [V]) for views already selected."""
    images_VSS3 = np.zeros((max_images, size, size, 3), np.uint8)
    mask_V = np.zeros(max_images, bool)
    for v, png in enumerate(pngs):
        images_VSS3[v] = fit_square(decode(png), size, augment_rng)
        mask_V[v] = True
    return images_VSS3, mask_V
