"""The body marker: the organ's pictogram an ultrasound machine burns into a corner of every image.

Real exam images carry it (with the preset's label), and it is how a reader of the images alone
knows which organ they show: organ outlines and echotexture differ too little between many of the
52 organs. Here it is a glyph of GRID x GRID cells in the top-left corner, bright where the organ's
code has a 1, dark where it has a 0, inside a bright frame. The codes are fixed (the same
"machine" for every corpus), one per organ, and any two differ in at least MIN_DISTANCE cells, so a
glyph stays readable after resizing and speckle.
"""
import functools

import numpy as np

from usjax import taxonomy

GRID = 4  # cells per side: 16-bit codes
MIN_DISTANCE = 3  # cells in which any two organs' codes differ
_ON, _OFF, _FRAME = 235, 20, 200  # grey levels
_CODE_SEED = 52  # fixes the codes; changing it changes every corpus


@functools.cache
def organ_codes() -> np.ndarray:
    """bool [52, GRID, GRID]: organ k's glyph. Greedy over a fixed random order of the 16-bit
    patterns with 5 to 11 cells on (never blank or nearly full), keeping one when it is at least
    MIN_DISTANCE from every kept one."""
    bits = GRID * GRID
    patterns = np.array([[(p >> b) & 1 for b in range(bits)] for p in range(1 << bits)], bool)
    balanced = patterns[(patterns.sum(1) >= 5) & (patterns.sum(1) <= bits - 5)]
    kept: list[np.ndarray] = []
    for pattern in balanced[np.random.default_rng(_CODE_SEED).permutation(len(balanced))]:
        if all((pattern != other).sum() >= MIN_DISTANCE for other in kept):
            kept.append(pattern)
            if len(kept) == len(taxonomy.ORGANS):
                break
    return np.stack(kept).reshape(-1, GRID, GRID)


def cell_size(image_size: int) -> int:
    """Pixels per cell: 3 at 128 px, 2 at 64 px (the glyph is about a tenth of the view)."""
    return max(2, round(image_size / 40))


def glyph_box(image_size: int) -> tuple[slice, slice]:
    """Rows and columns the glyph and its one-pixel frame cover."""
    side = GRID * cell_size(image_size) + 2
    margin = max(1, image_size // 64)
    return slice(margin, margin + side), slice(margin, margin + side)


def draw(grey: np.ndarray, organ_id: int, mask: np.ndarray) -> bool:
    """Burn organ `organ_id`'s glyph into `grey` (uint8 [S, S], in place). A view whose lesion
    reaches into the corner keeps its pixels (the lesion stays as rendered and measured): returns
    False then, True when the glyph was drawn."""
    rows, cols = glyph_box(grey.shape[0])
    if mask[rows, cols].any():
        return False
    cell = cell_size(grey.shape[0])
    glyph = np.where(organ_codes()[organ_id], _ON, _OFF).astype(np.uint8)
    grey[rows, cols] = _FRAME
    inner = grey[rows, cols][1:-1, 1:-1]
    inner[:] = np.kron(glyph, np.ones((cell, cell), np.uint8))
    return True


def read(grey: np.ndarray) -> int | None:
    """The organ whose glyph is in the corner of `grey`, or None when no glyph is there (the
    inverse of `draw`, for tests and for checking imported corpora)."""
    rows, cols = glyph_box(grey.shape[0])
    inner = grey[rows, cols][1:-1, 1:-1].astype(np.float32)
    cell = cell_size(grey.shape[0])
    means = inner.reshape(GRID, cell, GRID, cell).mean(axis=(1, 3))
    if not np.all((means >= _ON - 1) | (means <= _OFF + 1)):
        return None
    matches = np.flatnonzero((organ_codes() == (means > 128)).all(axis=(1, 2)))
    return int(matches[0]) if len(matches) else None
