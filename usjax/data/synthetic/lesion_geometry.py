"""A lesion outline rasterised into one view: its bounding box, the signed distance of each box
pixel to the outline, and the lesion-frame coordinates used to draw its internal content."""
import dataclasses

import numpy as np

from usjax.data.synthetic import shapes


@dataclasses.dataclass(frozen=True)
class LesionRaster:
    rows: slice  # bounding box in the image
    cols: slice
    distance: np.ndarray  # [h, w] px to the outline, positive inside (the mask is distance > 0)
    un: np.ndarray  # [h, w] lesion-frame coordinates, unit = half the drawn diameter
    vn: np.ndarray
    half_diameter_px: float  # half the Feret diameter drawn in this view

    @property
    def inside(self) -> np.ndarray:
        return self.distance > 0


def bounding_radius(contour: np.ndarray, diameter_px: float, margin_px: float) -> float:
    return float(contour.max() * diameter_px + margin_px)


def rasterise(contour, orientation, centre_row, centre_col, diameter_px, margin_px, size):
    """Rasterise an outline of Feret diameter `diameter_px`; None if its box leaves the image."""
    radius = bounding_radius(contour, diameter_px, margin_px)
    top, bottom = int(np.floor(centre_row - radius)), int(np.ceil(centre_row + radius)) + 1
    left, right = int(np.floor(centre_col - radius)), int(np.ceil(centre_col + radius)) + 1
    if top < 0 or left < 0 or bottom > size or right > size:
        return None
    dy = np.arange(top, bottom, dtype=np.float32)[:, None] - centre_row
    dx = np.arange(left, right, dtype=np.float32)[None, :] - centre_col
    cos, sin = np.cos(orientation), np.sin(orientation)
    u = dx * cos - dy * sin  # rotate into the lesion frame (image rows grow downwards)
    v = dx * sin + dy * cos
    angle = np.arctan2(v, u)
    outline_px = diameter_px * np.interp(angle, shapes.ANGLES, contour, period=2 * np.pi)
    distance = outline_px - np.hypot(u, v)
    half = diameter_px / 2.0
    return LesionRaster(slice(top, bottom), slice(left, right), distance.astype(np.float32),
                        (u / half).astype(np.float32), (v / half).astype(np.float32), half)
