"""Data-alignment knobs for the ablations: which views go with which report in a training record.

- "exam": one record per exam, all its views with its own report (the exam-level recipe);
- "image": one record per view, each with the whole exam's report (image-level pairing);
- "shuffled:P": like "exam", but a fraction P of the exams get the report of another exam of the
  same organ (deliberate misalignment). Exams are picked and re-paired deterministically from the
  seed; an exam that is the only one of its organ cannot be re-paired and keeps its report, so
  the realised fraction can fall short of P when organs are rare. Imported exams without an
  organ label (organ -1) form one group of their own: "same organ" is unknown for them.
"""
from collections.abc import Sequence

import numpy as np

MODES_HELP = "'exam', 'image' or 'shuffled:P' with P a fraction in [0, 1] (e.g. 'shuffled:0.3')"
_SHUFFLE_STREAM = 0xA11
Record = tuple[int, tuple[int, ...], int]  # (exam index, view indices, index of the report's exam)


def parse_mode(mode: str) -> tuple[str, float]:
    """("exam" | "image" | "shuffled", fraction); ValueError naming the mode otherwise."""
    if mode in ("exam", "image"):
        return mode, 0.0
    kind, _, fraction = str(mode).partition(":")
    if kind == "shuffled":
        try:
            p = float(fraction)
        except ValueError:
            p = -1.0
        if 0.0 <= p <= 1.0:
            return kind, p
    raise ValueError(f"alignment mode {mode!r} is not one of {MODES_HELP}")


def _shuffled_reports(organs: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _SHUFFLE_STREAM])
    report_of = np.arange(len(organs))
    organs = organs + 1  # unlabelled (-1) becomes group 0: bincount takes no negatives
    counts = np.bincount(organs) if len(organs) else np.zeros(0, int)
    eligible = np.flatnonzero(counts[organs] >= 2) if len(organs) else np.zeros(0, int)
    wanted = min(int(round(fraction * len(organs))), len(eligible))
    chosen = np.sort(rng.choice(eligible, size=wanted, replace=False))
    for organ in np.unique(organs[chosen]):
        group = chosen[organs[chosen] == organ]
        if len(group) >= 2:  # a derangement inside the group: every report still used once
            order = rng.permutation(group)
            report_of[order] = np.roll(order, 1)
        else:  # a lone pick takes the report of a random other exam of its organ
            others = np.flatnonzero((organs == organ) & (np.arange(len(organs)) != group[0]))
            report_of[group[0]] = rng.choice(others)
    return report_of


def align(exam_meta: Sequence[tuple[int, int]], mode: str, seed: int) -> list[Record]:
    """Records (exam index, view indices, report exam index) for exams given as
    (organ id, number of views)."""
    kind, fraction = parse_mode(mode)
    if kind == "image":
        return [(i, (v,), i) for i, (_, views) in enumerate(exam_meta) for v in range(views)]
    report_of = np.arange(len(exam_meta))
    if kind == "shuffled" and fraction > 0:
        organs = np.array([organ for organ, _ in exam_meta], dtype=np.int64)
        report_of = _shuffled_reports(organs, fraction, seed)
    return [(i, tuple(range(views)), int(report_of[i])) for i, (_, views) in enumerate(exam_meta)]
