"""Colour Doppler: flow painted in red (towards the probe) and blue (away) over a greyscale view,
inside a colour box around each lesion, with as much flow as its vascularity says.

Vessels are the near-zero level lines of a smooth random field, which wind like real vessels;
the band half-width around zero sets how much of the box carries flow. "Indeterminate" shows
the flash artefact that makes a Doppler exam non-diagnostic: dim colour scattered everywhere.
"""
import numpy as np

from usjax import taxonomy
from usjax.data.synthetic import texture

# vascularity -> (half-width of the vessel band, flow inside the lesion as well as around it)
_FLOW = {"none": (0.0, False), "reduced": (0.08, False), "normal": (0.15, True),
         "increased": (0.45, True)}
_PARENCHYMA_FLOW = 0.06  # vessel band of normal parenchyma, when no lesion is in view
_FLASH_FRACTION = 0.3
_BOX_GREY = 170


def _colours(flow, direction, brightness):
    red = np.stack([brightness, 0.12 * brightness, 0.12 * brightness], axis=-1)
    blue = np.stack([0.12 * brightness, 0.3 * brightness, brightness], axis=-1)
    return np.where(direction[..., None] > 0, red, blue)[flow]


def _paint_box(rgb, rows, cols, flow, rng, banks, dim):
    shape = flow.shape
    direction = texture.crop(banks.coarse, rng, *shape)
    brightness = 255.0 * (0.6 + 0.4 * np.clip(np.abs(direction), 0, 1)) * (0.45 if dim else 1.0)
    box = rgb[rows, cols]
    box[flow] = _colours(flow, direction, brightness).astype(np.uint8)
    box[[0, -1], :] = _BOX_GREY  # colour-box outline, as the scanner draws it
    box[:, [0, -1]] = _BOX_GREY


def _vessels(rng, banks, shape, half_width):
    return np.abs(texture.crop(banks.fine, rng, *shape)) < half_width


def colour_flow(grey, mask, placements, lesions, banks, rng, size):
    """RGB uint8 [S, S, 3] view: grey replicated, colour flow in one box per shown lesion (or, with
    no lesion shown, one box of normal parenchymal flow in the middle of the field). A lesion's
    flow never spills into another lesion (mask: the view's lesion mask)."""
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if not placements:
        side = size // 3
        rows = cols = slice(side, 2 * side)
        shape = (side, side)
        _paint_box(rgb, rows, cols, _vessels(rng, banks, shape, _PARENCHYMA_FLOW), rng, banks,
                   dim=False)
        return rgb
    for placed in placements:
        raster = placed.raster
        name = taxonomy.vocabulary("vascularity")[lesions[placed.lesion_index].vascularity]
        shape = raster.distance.shape
        if name == "indeterminate":
            flow, dim = rng.random(shape) < _FLASH_FRACTION, True
        else:
            half_width, inside_too = _FLOW[name]
            region = raster.distance > -0.4 * raster.half_diameter_px
            if not inside_too:  # only peripheral flow
                region &= raster.distance < 0.3 * raster.half_diameter_px
            flow, dim = _vessels(rng, banks, shape, half_width) & region, False
        own = mask[raster.rows, raster.cols]
        flow &= (own == 0) | (own == placed.lesion_index + 1)
        _paint_box(rgb, raster.rows, raster.cols, flow, rng, banks, dim)
    return rgb
