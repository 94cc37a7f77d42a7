"""Lesion contours: radius as a function of angle, from the shape and margins findings.

A contour is `N_ANGLES` radii at angles -pi + 2 pi k / N, scaled so the largest diameter (Feret
diameter) of the outline is exactly 1: the renderer multiplies by the size in pixels, so the
rendered extent equals the reported size.
"""
import numpy as np

from usjax import taxonomy

N_ANGLES = 64
ANGLES = -np.pi + 2 * np.pi * np.arange(N_ANGLES) / N_ANGLES


def _shape(name):
    return taxonomy.value_id("shape", name)


def _ellipse(aspect, power=2.0):
    c, s = np.abs(np.cos(ANGLES)), np.abs(np.sin(ANGLES)) / aspect
    return (c ** power + s ** power) ** (-1.0 / power)


def _harmonics(rng, orders, amplitude):
    phases = rng.uniform(0, 2 * np.pi, len(orders))
    amps = amplitude * rng.uniform(0.5, 1.0, len(orders))
    return sum(a * np.cos(k * ANGLES + p) for k, a, p in zip(orders, amps, phases))


def _radii(shape_id, rng):
    if shape_id == _shape("round"):
        return _ellipse(rng.uniform(0.88, 1.0)) * (1 + _harmonics(rng, [2, 3], 0.02))
    if shape_id == _shape("oval"):
        return _ellipse(rng.uniform(0.5, 0.7))
    if shape_id == _shape("lobulated"):
        lobes = int(rng.integers(3, 6))
        return _ellipse(rng.uniform(0.7, 0.9)) * (1 + _harmonics(rng, [lobes], 0.18))
    if shape_id == _shape("tubular/linear"):
        return _ellipse(rng.uniform(0.2, 0.3), power=4.0)
    if shape_id == _shape("nodular"):
        bumps = int(rng.integers(6, 10))
        return _ellipse(rng.uniform(0.8, 0.95)) * (1 + 0.1 * np.abs(np.sin(bumps * ANGLES / 2)))
    if shape_id == _shape("flattened"):
        return _ellipse(rng.uniform(0.3, 0.42))
    if shape_id == _shape("irregular"):
        spikes = _harmonics(rng, list(range(2, 10)), 0.09)
        return _ellipse(rng.uniform(0.6, 0.9)) * np.clip(1 + spikes, 0.55, None)
    raise ValueError(f"shape id {shape_id} is not in the taxonomy's shape vocabulary")


def feret_diameter(points_N2: np.ndarray) -> float:
    diff = points_N2[:, None, :] - points_N2[None, :, :]
    return float(np.sqrt((diff ** 2).sum(-1)).max())


def sample_contour(shape_id: int, margins_id: int, rng: np.random.Generator) -> np.ndarray:
    """Radii [N_ANGLES] of an outline with Feret diameter 1."""
    radii = _radii(shape_id, rng)
    if margins_id == taxonomy.value_id("margins", "ill-defined"):
        radii = radii * (1 + _harmonics(rng, list(range(7, 14)), 0.03))
    points = np.stack([radii * np.cos(ANGLES), radii * np.sin(ANGLES)], axis=1)
    return radii / feret_diameter(points)


def sample_orientation(shape_id: int, rng: np.random.Generator) -> float:
    """Angle of the contour's long axis from the image's horizontal, in radians."""
    if shape_id == _shape("flattened"):
        return float(rng.normal(0.0, 0.12))  # flattened lesions lie along the tissue planes
    if shape_id in (_shape("oval"), _shape("tubular/linear")):
        return float(rng.uniform(-0.6, 0.6))  # "wider than tall", as benign lesions tend to be
    return float(rng.uniform(0.0, np.pi))
