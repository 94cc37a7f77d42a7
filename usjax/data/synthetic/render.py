"""One greyscale B-mode view: organ layers and echotexture, lesions, posterior bands, depth
attenuation, gain, speckle and log compression; plus its lesion mask.

Speed matters (the corpus is rendered on CPU): full-image work is a handful of vectorised passes;
the organ boundaries are computed only in the rows where they can be, the attenuation through a
per-depth lookup table, and random fields come from the precomputed banks (texture.py).
"""
import numpy as np

from usjax.data.synthetic import appearance, probe, texture
from usjax.data.synthetic.organs import OrganProfile
from usjax.data.synthetic.views import ViewPlan

_FAT, _DEEP = 0.5, 0.55  # reflectivity above and below the organ, relative to parenchyma
_NEAR_ROWS, _FAR_ROWS = 0.2, 0.85  # the organ's near boundary lies above, its far one below
_NOISE_FLOOR = 0.015
_DISPLAY_OFFSET, _DISPLAY_GAIN = 108.0, 38.0  # grey = offset + gain * ln(echo amplitude)


def _boundary_line(depth, boundary, width, brightness):
    return brightness * np.exp(-((depth - boundary) / width) ** 2)


def _tissue(view, profile, maps, banks, rng, size):
    scale = size / 128.0
    bank = banks.coarse_echo if profile.coarse_texture else banks.fine_echo
    echo = texture.crop(bank, rng, size, size) * profile.echo_level  # a copy: safe to edit
    near = slice(0, int(np.ceil(_NEAR_ROWS * size)))
    depth, top = maps.depth[near], view.organ_top[maps.beam[near]]
    echo[near] *= np.where(depth < top, _FAT, 1.0)
    echo[near] += profile.echo_level * _boundary_line(depth, top, 0.8 * scale, 1.6)
    if profile.probe == "linear":
        echo[near] += profile.echo_level * _boundary_line(depth, 0.0, 1.2 * scale, 1.5)  # skin
        far = slice(int(_FAR_ROWS * size), size)
        depth, bottom = maps.depth[far], view.organ_bottom[maps.beam[far]]
        echo[far] *= np.where(depth > bottom, _DEEP, 1.0)
        echo[far] += profile.echo_level * _boundary_line(depth, bottom, 0.8 * scale, 1.2)
    return echo


def _speckle(profile, maps, banks, rng, size):
    if profile.probe == "linear":
        return texture.crop(banks.speckle, rng, size, size)
    return texture.gather(banks.speckle, rng, maps.beam_space_index)


def render_bmode(view: ViewPlan, specs, profile: OrganProfile, banks, rng, size):
    """Return (grey uint8 [S, S], mask uint8 [S, S]); mask value k+1 where lesion k is."""
    maps = probe.beam_maps(profile.probe, size)
    scale = size / 128.0
    echo = _tissue(view, profile, maps, banks, rng, size)
    mask = np.zeros((size, size), dtype=np.uint8)
    for placed in view.placements:
        spec = specs[placed.lesion_index]
        box = (placed.raster.rows, placed.raster.cols)
        noise = texture.crop(banks.fine, rng, *placed.raster.distance.shape)
        alpha, lesion = appearance.lesion_echo(spec, placed, noise, scale)
        echo[box] += alpha * (profile.echo_level * lesion - echo[box])
        mask[box][placed.raster.inside] = placed.lesion_index + 1
        band = appearance.posterior_band(spec.lesion, placed, maps, size)
        if band is not None:
            echo *= band
    attenuation = view.gain * np.exp(-view.attenuation * np.arange(size) / size)
    echo *= attenuation.astype(np.float32)[maps.depth_row]
    echo *= _speckle(profile, maps, banks, rng, size)
    echo += _NOISE_FLOOR
    grey = np.clip(_DISPLAY_OFFSET + _DISPLAY_GAIN * np.log(echo), 0, 255)
    grey[~maps.fov] = 0
    return grey.astype(np.uint8), mask


def to_rgb(grey):
    """Greyscale view as RGB uint8 [S, S, 3], the one image format of the corpus."""
    return np.repeat(grey[..., None], 3, axis=2)
