"""The views of an exam: how many, which are colour Doppler, each view's plane, depth, gain and
organ outline, and which lesions each view shows (placement.py).

Every lesion is cut through its centre in one greyscale view (its measurement view, where the
drawn diameter equals the reported size) and, when the exam has Doppler views, shown in at least
one of them (so its vascularity is visible); other views show it, off-centre and smaller, only by
chance. A lesion that fits in no view is left out of the exam, so the findings never claim
something the pixels do not show.
"""
import dataclasses

import numpy as np

from usjax import taxonomy
from usjax.data.synthetic import placement, streams
from usjax.data.synthetic.config import SyntheticConfig
from usjax.data.synthetic.findings import ExamFindings
from usjax.data.synthetic.organs import ORGAN_PROFILES

PLANES = ("longitudinal", "transverse")


@dataclasses.dataclass(frozen=True)
class ViewPlan:
    plane: str
    depth_mm: float  # field depth shown by the image height
    gain: float
    attenuation: float  # residual depth attenuation after time-gain compensation
    doppler: bool
    tilt: float  # probe tilt, radians: rotates what the view shows
    organ_top: np.ndarray  # [S] depth (px) of the organ's near boundary, per scan line
    organ_bottom: np.ndarray  # [S] depth (px) of its far boundary
    placements: tuple[placement.Placement, ...] = ()

    @property
    def mm_per_pixel(self) -> float:
        return self.depth_mm / self.organ_top.shape[0]

    def lesion_orientation(self, orientation: float) -> float:
        """A lesion's long-axis angle in this view: transverse views are mirrored, and the probe
        tilt turns the cut."""
        return (orientation if self.plane == "longitudinal" else -orientation) + self.tilt


def _boundary(rng, size, level, wobble, plane):
    beams = np.arange(size) / size
    cycles = rng.uniform(0.5, 1.5) * (1.0 if plane == "longitudinal" else 2.0)
    phase = rng.uniform(0, 2 * np.pi)
    return (level + wobble * np.sin(2 * np.pi * cycles * beams + phase)) * size


def _sample_view(rng, organ_id, size, doppler):
    profile = ORGAN_PROFILES[organ_id]
    plane = PLANES[int(rng.integers(len(PLANES)))]
    top = _boundary(rng, size, rng.uniform(0.06, 0.12), 0.02, plane)
    if profile.probe == "linear":
        bottom = _boundary(rng, size, rng.uniform(0.97, 1.1), 0.02, plane)
    else:
        bottom = np.full(size, 2.0 * size)  # deep organs fill the sector
    return ViewPlan(plane=plane, depth_mm=profile.depth_mm * rng.uniform(0.85, 1.2),
                    gain=rng.uniform(0.8, 1.25), attenuation=rng.uniform(0.3, 0.8),
                    doppler=doppler, tilt=rng.uniform(-0.2, 0.2),
                    organ_top=top.astype(np.float32),
                    organ_bottom=bottom.astype(np.float32))


def _doppler_flags(rng, count, cfg, has_lesions):
    flags = rng.random(count) < cfg.doppler_fraction
    if has_lesions and cfg.doppler_fraction > 0 and not flags.any():
        flags[rng.integers(count)] = True
    if flags.all():
        flags[rng.integers(count)] = False  # keep a greyscale view to measure in
    return flags


def _try_views(order, spec_index, spec, views, occupied, organ_id, full_section, scale, rng):
    """Place the lesion in the first view of `order` where it fits; return that view's index."""
    lesion = spec.lesion
    ill = lesion.margins == taxonomy.value_id("margins", "ill-defined")
    profile = ORGAN_PROFILES[organ_id]
    for v in order:
        view = views[v]
        diameter_px = lesion.size_mm * scale / view.mm_per_pixel
        centre_row = spec.depth_fraction * profile.depth_mm / view.mm_per_pixel
        placed = placement.place(spec_index, spec, diameter_px, centre_row,
                                 view.lesion_orientation(spec.orientation), profile.probe,
                                 view.organ_top, view.organ_bottom, occupied[v], full_section,
                                 ill, rng)
        if placed is not None:
            occupied[v].append(placed.beams)
            views[v] = dataclasses.replace(view, placements=view.placements + (placed,))
            return v
    return None


def _drop_unplaced(views, kept):
    renumber = {old: new for new, old in enumerate(kept)}
    return [dataclasses.replace(view, placements=tuple(
        dataclasses.replace(p, lesion_index=renumber[p.lesion_index])
        for p in view.placements if p.lesion_index in renumber)) for view in views]


def _show_lesion(i, spec, first_greyscale, flags, views, occupied, organ_id, cfg, rng):
    """Place lesion i: measured in a greyscale view, then shown by chance in others and, when
    there are Doppler views, in at least one of them. True if all that worked."""
    greyscale = [v for v in range(len(views)) if not flags[v]]
    start = first_greyscale % len(greyscale)
    measured = _try_views(greyscale[start:] + greyscale[:start], i, spec, views, occupied,
                          organ_id, True, 1.0, rng)
    if measured is None:
        return False
    shown_in_doppler = not flags.any()
    for v in rng.permutation([v for v in range(len(views)) if v != measured]):
        must = flags[v] and not shown_in_doppler
        if must or rng.random() < cfg.lesion_visibility:
            placed = _try_views([int(v)], i, spec, views, occupied, organ_id, False,
                                rng.uniform(0.55, 0.95), rng)
            shown_in_doppler |= placed is not None and bool(flags[v])
    return shown_in_doppler


def plan_views(index: int, findings: ExamFindings, cfg: SyntheticConfig):
    """Return (views, kept): the view plans and the indices of the lesions that were placed."""
    rng = streams.stream(cfg.seed, index, streams.VIEWS)
    count = int(rng.integers(cfg.min_views, cfg.max_views + 1))
    flags = _doppler_flags(rng, count, cfg, bool(findings.lesions))
    views = [_sample_view(rng, findings.organ_id, cfg.image_size, bool(d)) for d in flags]
    occupied = [[] for _ in views]
    by_size = sorted(range(len(findings.lesions)),
                     key=lambda i: -findings.lesions[i].lesion.size_mm)
    # largest first, each starting from another greyscale view so the measurements spread out
    kept = sorted(i for rank, i in enumerate(by_size)
                  if _show_lesion(i, findings.lesions[i], rank, flags, views, occupied,
                                  findings.organ_id, cfg, rng))
    return tuple(_drop_unplaced(views, kept)), tuple(kept)
