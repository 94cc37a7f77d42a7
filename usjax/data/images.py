"""Exam-level image sets: choose views, decode, optionally augment, resize and pad to a square.

Views keep acquisition order. An exam with more views than `max_images` keeps a sorted random
subset during training (rng from the config seed and the element index) and evenly spaced views
in evaluation. Each view is scaled so its longer side is `size` (aspect ratio kept) and centred on
a black square; augmentation is a small random crop plus gain/contrast jitter (no flips: reports
name the side, and left/right is part of the finding).

A view's lesion mask (stored value k+1 where lesion k is) becomes a binary mask that goes through
the same crop, scaling (nearest neighbour, so it stays binary) and padding as its view. The mask
draws nothing from the augmentation generator, so asking for masks leaves the images unchanged.
"""
import dataclasses
import io

import numpy as np
from PIL import Image

MIN_CROP = 0.85  # data.augment_min_crop's default: a crop keeps 85-100% of each side


class ImageDecodeError(ValueError):
    """A view's bytes are not a readable image."""


def select_views(num_views: int, max_images: int, rng: np.random.Generator | None) -> list[int]:
    """Indices (ascending) of at most `max_images` of `num_views` views."""
    if num_views <= max_images:
        return list(range(num_views))
    if rng is None:
        return sorted({int(round(i)) for i in np.linspace(0, num_views - 1, max_images)})
    return sorted(int(i) for i in rng.choice(num_views, size=max_images, replace=False))


def _open(png: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except Exception as e:  # PIL raises several unrelated types for corrupt bytes
        raise ImageDecodeError(f"{type(e).__name__}: {e}") from e
    return image


def decode(png: bytes) -> Image.Image:
    image = _open(png)
    # Grey B-mode views stay one channel until the end: resizing them is then 3x cheaper.
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a view's pixels go: crop box (left, top, right, bottom) in the view, the scaled
    size (w, h) of the crop and its top-left corner on the output square."""
    crop: tuple[int, int, int, int]
    scaled: tuple[int, int]
    corner: tuple[int, int]  # (top, left)


def placement(width: int, height: int, size: int, augment_rng: np.random.Generator | None,
              min_crop: float = MIN_CROP) -> Placement:
    """The geometry of fitting a width x height view into a size x size square; with an rng and
    min_crop < 1, a random crop keeping min_crop..100% of each side comes first (the only
    geometric draw). min_crop = 1 keeps the whole view: corner annotations such as the body
    marker stay in the picture."""
    crop = (0, 0, width, height)
    if augment_rng is not None and min_crop < 1.0:
        keep = augment_rng.uniform(min_crop, 1.0, size=2)
        cw, ch = max(1, int(width * keep[0])), max(1, int(height * keep[1]))
        x0, y0 = int(augment_rng.integers(width - cw + 1)), int(augment_rng.integers(height - ch + 1))
        crop = (x0, y0, x0 + cw, y0 + ch)
    w, h = crop[2] - crop[0], crop[3] - crop[1]
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return Placement(crop, (nw, nh), ((size - nh) // 2, (size - nw) // 2))


def _place(image: Image.Image, where: Placement, resample: int) -> np.ndarray:
    """The view's crop, scaled: uint8 [nh, nw] (mode L) or [nh, nw, 3] (RGB)."""
    if where.crop != (0, 0, *image.size):
        image = image.crop(where.crop)
    if where.scaled != image.size:
        image = image.resize(where.scaled, resample)
    return np.asarray(image)


def _pad(pixels: np.ndarray, size: int, where: Placement) -> np.ndarray:
    out = np.zeros((size, size) + pixels.shape[2:], np.uint8)
    (top, left), (nw, nh) = where.corner, where.scaled
    out[top:top + nh, left:left + nw] = pixels
    return out


def _jitter_intensity(x_HW3: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, contrast = rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)
    mean = x_HW3.mean()
    return np.clip((x_HW3 - mean) * contrast + mean * gain, 0, 255)


def fit_square(image: Image.Image, size: int, augment_rng: np.random.Generator | None,
               min_crop: float = MIN_CROP) -> np.ndarray:
    """uint8 [size, size, 3]: the view (mode L or RGB) scaled to fit and centred, black
    elsewhere."""
    return _fit_view(image, size, placement(*image.size, size, augment_rng, min_crop),
                     augment_rng)


def _fit_view(image: Image.Image, size: int, where: Placement,
              augment_rng: np.random.Generator | None) -> np.ndarray:
    view_HW3 = _place(image, where, Image.BILINEAR)
    if augment_rng is not None:
        view_HW3 = _jitter_intensity(view_HW3.astype(np.float32), augment_rng).astype(np.uint8)
    if view_HW3.ndim == 2:  # grey: the same value in all three channels
        view_HW3 = view_HW3[:, :, None]
    return _pad(np.broadcast_to(view_HW3, view_HW3.shape[:2] + (3,)), size, where)


def decode_mask(png: bytes, view_size: tuple[int, int]) -> Image.Image:
    """A lesion mask PNG as a binary (0/1) mode-L image of the view's size (w, h)."""
    try:
        image = _open(png)
    except ImageDecodeError as e:
        raise ImageDecodeError(f"lesion mask: {e}") from e
    pixels = np.asarray(image)
    if pixels.ndim != 2:
        raise ImageDecodeError(f"lesion mask has mode {image.mode}; it must have one channel")
    if image.size != view_size:
        raise ImageDecodeError(f"lesion mask is {image.size[0]}x{image.size[1]} but its view is "
                               f"{view_size[0]}x{view_size[1]}")
    return Image.fromarray((pixels > 0).astype(np.uint8))


def exam_images(pngs: list[bytes], max_images: int, size: int,
                augment_rng: np.random.Generator | None, mask_pngs: list[bytes | None] | None = None,
                min_crop: float = MIN_CROP) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(images uint8 [V, S, S, 3], image_mask bool [V], masks) for views already selected.

    With `mask_pngs` (one per view; None for a view without a mask), masks is uint8 [V, S, S],
    1 where any lesion is, placed exactly like its view; otherwise None."""
    images_VSS3 = np.zeros((max_images, size, size, 3), np.uint8)
    mask_V = np.zeros(max_images, bool)
    masks_VSS = None if mask_pngs is None else np.zeros((max_images, size, size), np.uint8)
    for v, png in enumerate(pngs):
        view = decode(png)
        where = placement(*view.size, size, augment_rng, min_crop)
        if masks_VSS is not None and mask_pngs[v] is not None:
            lesions = decode_mask(mask_pngs[v], view.size)
            masks_VSS[v] = _pad(_place(lesions, where, Image.NEAREST), size, where)
        images_VSS3[v] = _fit_view(view, size, where, augment_rng)
        mask_V[v] = True
    return images_VSS3, mask_V, masks_VSS
