"""How a lesion changes the tissue's reflectivity in one view: echogenicity relative to the
parenchyma, internal content, a rim as sharp or blurred as its margins, and the bright or dark
band that its posterior acoustics cast along the beams behind it."""
import numpy as np

from usjax import taxonomy
from usjax.data.exam import Lesion
from usjax.data.synthetic import internal, placement
from usjax.data.synthetic.findings import LesionSpec

_ECHO = {  # reflectivity relative to the surrounding parenchyma
    "anechoic": internal.ANECHOIC, "hypoechoic": 0.35, "isoechoic": 1.0, "hyperechoic": 3.0}
_ISO_HALO = 0.45  # isoechoic lesions are seen by their thin hypoechoic rim
_LESION_TEXTURE = 0.1  # mild own echotexture of a lesion
ENHANCEMENT_GAIN = 1.5  # band behind the lesion: x(1 + 1.5) just behind, fading with depth
SHADOW_DEPTH = 0.8  # band behind the lesion: x(1 - 0.8)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def _base_level(echogenicity, raster, noise, pixel_scale):
    name = taxonomy.vocabulary("echogenicity")[echogenicity]
    if name == "mixed":
        return 0.3 + 1.9 * _sigmoid(2.5 * noise)
    level = np.full(raster.distance.shape, _ECHO[name], dtype=np.float32)
    if name == "isoechoic":
        level[(raster.distance > 0) & (raster.distance < 1.3 * pixel_scale)] = _ISO_HALO
    return level


def lesion_echo(spec: LesionSpec, placed: placement.Placement, noise, pixel_scale):
    """(alpha, echo) [h, w] over the lesion's box: how much the lesion replaces the tissue there
    (a rim as sharp as its margins), and its reflectivity relative to the organ's mean
    parenchyma. The lesion has its own texture: it does not inherit the parenchyma's."""
    lesion, raster = spec.lesion, placed.raster
    level = _base_level(lesion.echogenicity, raster, noise, pixel_scale)
    level = internal.paint_internal(level, spec.pattern, raster.un, raster.vn,
                                    raster.half_diameter_px, noise, pixel_scale)
    ill = lesion.margins == taxonomy.value_id("margins", "ill-defined")
    width = placement.edge_width_px(ill, raster.half_diameter_px, pixel_scale)
    alpha = _sigmoid(raster.distance / width)
    return alpha, level * np.exp(_LESION_TEXTURE * noise)


def posterior_band(lesion: Lesion, placed: placement.Placement, maps, size):
    """Multiplicative factor [S, S] for the scan lines behind the lesion, or None if it has no
    posterior feature."""
    if lesion.posterior_acoustics == taxonomy.ABSENT:
        return None
    raster = placed.raster
    box = (raster.rows, raster.cols)
    inside = raster.inside
    far = np.full(size, -1.0, dtype=np.float32)  # deepest lesion pixel on each scan line
    np.maximum.at(far, maps.beam[box][inside], maps.depth[box][inside])
    lo, hi = placed.beams
    lines = np.arange(lo, hi + 1)
    hit = far[lines] >= 0
    if not hit.any():  # a lesion smaller than a pixel at this image size: nothing drawn, no band
        return None
    far[lines] = np.interp(lines, lines[hit], far[lines][hit])  # fan beams skip some lines
    far_map = far[maps.beam]
    behind = np.maximum(maps.depth - far_map, 0.0) * (far_map >= 0)
    ramp = np.clip(behind / (1.5 * size / 128.0), 0.0, 1.0)
    if lesion.posterior_acoustics == taxonomy.value_id("posterior_acoustics", "enhancement"):
        return 1.0 + ENHANCEMENT_GAIN * ramp * np.exp(-behind / (0.6 * size))
    return 1.0 - SHADOW_DEPTH * ramp
