"""Internal content of a lesion (cystic spaces, calcific foci, septa, solid parts): where the parts
sit inside the outline, and how they change the lesion's reflectivity.

Positions are in the lesion's own normalised frame (u along the long axis, unit = half the Feret
diameter), so a lesion shows the same internal pattern in every view.
"""
import dataclasses

import numpy as np

from usjax import taxonomy
from usjax.data.synthetic import shapes

ANECHOIC = 0.04  # reflectivity relative to parenchyma
SOLID = 1.1
SEPTUM = 2.2
_AREA_PER_SEPTUM_PX = 60  # a small lesion shows fewer septa and foci, so they do not fill it
_AREA_PER_CALCIFICATION_PX = 50
CALCIFICATION = 6.0
CALCIFICATION_RADIUS_PX = 0.9  # at 128 px; scaled with the image size
SEPTUM_HALF_WIDTH_PX = 0.55


def _kind(name):
    return taxonomy.value_id("internal_characteristics", name)


@dataclasses.dataclass(frozen=True)
class InternalPattern:
    kind: int  # an internal_characteristics id, or taxonomy.ABSENT
    params: np.ndarray  # rows whose meaning depends on kind (circles, dots, lines)


def _radius_at(contour, angle):
    """Normalised outline radius (unit = half Feret diameter) at an angle of the lesion frame."""
    return 2.0 * np.interp(angle, shapes.ANGLES, contour, period=2 * np.pi)


def _inside_points(contour, count, max_fraction, rng):
    angle = rng.uniform(-np.pi, np.pi, count)
    radius = rng.uniform(0.0, max_fraction, count) * _radius_at(contour, angle)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), angle


def sample_internal(kind: int, contour: np.ndarray, rng: np.random.Generator) -> InternalPattern:
    short = 2.0 * float(contour.min())
    if kind == _kind("cystic components"):
        centres, _ = _inside_points(contour, int(rng.integers(2, 4)), 0.45, rng)
        radii = rng.uniform(0.25, 0.38, (len(centres), 1)) * short
        return InternalPattern(kind, np.concatenate([centres, radii], axis=1))
    if kind == _kind("calcifications"):
        centres, _ = _inside_points(contour, int(rng.integers(2, 6)), 0.7, rng)
        return InternalPattern(kind, centres)
    if kind == _kind("septations"):
        count = int(rng.integers(1, 4))
        # septa cross the lesion's short way: line normals near its long axis
        lines = np.stack([rng.uniform(-0.5, 0.5, count), rng.uniform(-0.6, 0.6, count)], axis=1)
        return InternalPattern(kind, lines)
    if kind == _kind("solid components"):
        angle = rng.uniform(-np.pi, np.pi)
        wall = _radius_at(contour, angle)
        radius = 0.35 * min(wall, short)
        centre = (wall - 0.8 * radius) * np.array([np.cos(angle), np.sin(angle)])
        return InternalPattern(kind, np.array([[centre[0], centre[1], radius]]))
    if kind == _kind("mixed cystic and solid"):
        return InternalPattern(kind, np.array([[rng.uniform(0, 2 * np.pi),
                                                rng.uniform(-0.2, 0.2) * short]]))
    if kind in (_kind("complex cystic-solid"), taxonomy.ABSENT):
        return InternalPattern(kind, np.zeros((0, 2)))
    raise ValueError(f"internal_characteristics id {kind} is not in the taxonomy")


def _shown(half_diameter_px, pixel_scale, area_per_item_px):
    """How many small parts a lesion of this drawn size can show without being filled by them."""
    area_px = np.pi * half_diameter_px ** 2 / pixel_scale ** 2
    return max(1, int(area_px / area_per_item_px))


def paint_internal(level, pattern, un, vn, half_diameter_px, noise, pixel_scale):
    """Return the lesion reflectivity `level` (bbox array) with the internal content drawn in.
    un, vn: normalised lesion-frame coordinates of the bbox pixels; noise: smooth zero-mean
    field."""
    kind, p = pattern.kind, pattern.params
    if kind == _kind("cystic components") or kind == _kind("solid components"):
        value = ANECHOIC if kind == _kind("cystic components") else SOLID
        for cu, cv, radius in p:
            level = np.where((un - cu) ** 2 + (vn - cv) ** 2 < radius ** 2, value, level)
    elif kind == _kind("calcifications"):
        dot = CALCIFICATION_RADIUS_PX * pixel_scale / half_diameter_px
        for cu, cv in p[:_shown(half_diameter_px, pixel_scale, _AREA_PER_CALCIFICATION_PX)]:
            level = np.where((un - cu) ** 2 + (vn - cv) ** 2 < dot ** 2, CALCIFICATION, level)
    elif kind == _kind("septations"):
        half_width = SEPTUM_HALF_WIDTH_PX * pixel_scale / half_diameter_px
        for angle, offset in p[:_shown(half_diameter_px, pixel_scale, _AREA_PER_SEPTUM_PX)]:
            distance = np.abs(un * np.cos(angle) + vn * np.sin(angle) - offset)
            level = np.where(distance < half_width, SEPTUM, level)
    elif kind == _kind("mixed cystic and solid"):
        angle, offset = p[0]
        level = np.where(un * np.cos(angle) + vn * np.sin(angle) > offset, ANECHOIC, SOLID)
    elif kind == _kind("complex cystic-solid"):
        level = np.where(noise > 0.0, ANECHOIC, 1.3)
    return level
