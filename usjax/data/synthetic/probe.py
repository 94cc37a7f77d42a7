"""Probe geometry: which pixels a probe sees, and along which beam and at what depth.

A linear probe sends parallel vertical beams (superficial organs); a sector (curvilinear) probe
fans them out from an apex above the image (deep organs). Everything that follows the beams
(speckle, depth attenuation, the band behind a lesion) is computed from these maps, so both probes
share one renderer. Maps depend only on (probe, size): computed once and cached, read-only.
"""
import dataclasses
import functools

import numpy as np

PROBES = ("linear", "sector")
SECTOR_HALF_ANGLE = np.deg2rad(36.0)
SECTOR_APEX_HEIGHT = 0.15  # apex above the image top, in image heights


@dataclasses.dataclass(frozen=True)
class BeamMaps:
    fov: np.ndarray  # bool [S, S]: pixel inside the imaged field
    beam: np.ndarray  # int32 [S, S]: scan line through the pixel, 0..S-1 left to right
    depth: np.ndarray  # float32 [S, S]: distance from the skin along the beam, in pixels
    depth_row: np.ndarray  # int32 [S, S]: depth rounded to a row of a beam-space field
    beam_space_index: np.ndarray  # int64 [S, S]: depth_row * 2S + beam, into a [2S, 2S] field


def _read_only(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=8)
def beam_maps(probe: str, size: int) -> BeamMaps:
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    if probe == "linear":
        fov = np.ones((size, size), dtype=bool)
        beam = cols.astype(np.int32)
        depth = rows
    elif probe == "sector":
        apex = SECTOR_APEX_HEIGHT * size
        dx, dy = cols - (size - 1) / 2.0, rows + apex
        angle = np.arctan2(dx, dy)
        depth = (np.hypot(dx, dy) - apex).astype(np.float32)
        fov = (np.abs(angle) <= SECTOR_HALF_ANGLE) & (depth <= size - 1)
        beam = np.clip(np.rint((angle / SECTOR_HALF_ANGLE + 1) / 2 * (size - 1)), 0, size - 1)
        beam = beam.astype(np.int32)
    else:
        raise ValueError(f"probe {probe!r} is not one of {PROBES}")
    depth_row = np.clip(np.rint(depth), 0, size - 1).astype(np.int32)
    beam_space_index = depth_row.astype(np.int64) * (2 * size) + beam
    return BeamMaps(*_read_only(fov, beam, depth, depth_row, beam_space_index))


def half_width_at(probe: str, size: int, row: float) -> float:
    """Half the lateral extent of the field at an image row, in pixels."""
    if probe == "linear":
        return size / 2.0
    return float((row + SECTOR_APEX_HEIGHT * size) * np.tan(SECTOR_HALF_ANGLE))
