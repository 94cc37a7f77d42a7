"""Where a lesion sits in one view, with the checks that keep the picture honest: the whole lesion
inside the imaged field and inside the organ, and no two lesions on the same scan lines (so the
acoustic band behind each lesion belongs to it alone)."""
import dataclasses

import numpy as np

from usjax.data.synthetic import lesion_geometry, probe
from usjax.data.synthetic.findings import LesionSpec

_ATTEMPTS = 12
_BEAM_GAP = 2  # scan lines kept free between two lesions' bands
_ORGAN_CLEARANCE_PX = 2.0
TOP_LIMIT, BOTTOM_LIMIT = 0.18, 0.93  # lesion rows stay within these fractions of the image


@dataclasses.dataclass(frozen=True)
class Placement:
    lesion_index: int  # index into the exam's lesions
    raster: lesion_geometry.LesionRaster
    beams: tuple[int, int]  # first and last scan line the lesion covers
    full_section: bool  # cut through the centre: the drawn diameter is the lesion's size


def edge_width_px(ill_defined: bool, half_diameter_px: float, pixel_scale: float) -> float:
    """Width of the blurred rim: sharp for well-defined margins, wide for ill-defined ones."""
    if ill_defined:
        return pixel_scale * min(0.6 + 0.06 * half_diameter_px / pixel_scale, 1.5)
    return 0.35 * pixel_scale


def raster_margin_px(ill_defined: bool, half_diameter_px: float, pixel_scale: float) -> float:
    """Room around the outline for the blurred rim and the Doppler ring."""
    rim = 3 * edge_width_px(ill_defined, half_diameter_px, pixel_scale)
    return max(rim, 0.4 * half_diameter_px) + 2.0


def _fits(raster, maps, organ_top, organ_bottom, occupied):
    near = raster.distance > -1.0
    box = (raster.rows, raster.cols)
    if not maps.fov[box][near].all():
        return None
    beams = maps.beam[box][near]
    depth = maps.depth[box][near]
    if (depth < organ_top[beams] + _ORGAN_CLEARANCE_PX).any():
        return None
    if (depth > organ_bottom[beams] - _ORGAN_CLEARANCE_PX).any():
        return None
    lo, hi = int(beams.min()), int(beams.max())
    if any(lo <= other_hi + _BEAM_GAP and other_lo <= hi + _BEAM_GAP
           for other_lo, other_hi in occupied):
        return None
    return lo, hi


def place(index: int, spec: LesionSpec, diameter_px: float, centre_row_wanted: float,
          orientation: float, probe_name: str, organ_top, organ_bottom, occupied,
          full_section: bool, ill_defined: bool, rng: np.random.Generator) -> Placement | None:
    """Try a few lateral positions at the lesion's depth; None if none fits. `orientation` is the
    lesion's long-axis angle as this view sees it."""
    size = organ_top.shape[0]
    maps = probe.beam_maps(probe_name, size)
    pixel_scale = size / 128.0
    margin = raster_margin_px(ill_defined, diameter_px / 2, pixel_scale)
    radius = lesion_geometry.bounding_radius(spec.contour, diameter_px, margin)
    centre_row = float(np.clip(centre_row_wanted, TOP_LIMIT * size + radius,
                               BOTTOM_LIMIT * size - radius))
    half_width = probe.half_width_at(probe_name, size, centre_row) - radius
    if half_width <= 0:
        return None
    for col in (size - 1) / 2.0 + rng.uniform(-half_width, half_width, _ATTEMPTS):
        raster = lesion_geometry.rasterise(spec.contour, orientation, centre_row, col,
                                           diameter_px, margin, size)
        beams = raster and _fits(raster, maps, organ_top, organ_bottom, occupied)
        if beams:
            return Placement(index, raster, beams, full_section)
    return None
