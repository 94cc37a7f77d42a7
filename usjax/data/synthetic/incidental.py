"""Rare incidental findings: an optional long tail of report content (off by default).

Real report vocabularies are heavy-tailed: a few findings recur in every other report, most are
rare. A model can only state a rare finding's wording after it has seen that finding a few
times, so the share of report text it cannot yet predict shrinks as a power law of the number of
exams (Hutter 2021, "Learning curve theory"; Michaud et al. 2023, the quantization model of
neural scaling). The base corpus has no such tail: its reports are a few templates whose
structure a model learns within a few hundred steps, after which the loss sits at the entropy of
the random phrasings. Scaling studies that want power-law learning curves (experiments/
quickstart.py) therefore use a corpus with `incidental_catalogue` = R > 0: every report then
states `incidental_per_exam` findings drawn from a Zipf law (exponent `incidental_zipf_exponent`)
over a catalogue of R findings, each with its own fixed wording "<modifier> <term> near the
<site>". Incidental findings are text only (not drawn in the views), like the history and
comparison lines of real reports; no word of the catalogue is a taxonomy phrasing, so the
clinical-efficacy parser ignores them.
"""
import functools
import itertools

import numpy as np

from usjax.data.synthetic import streams
from usjax.data.synthetic.config import SyntheticConfig
from usjax.data.synthetic.findings import zipf_probabilities
from usjax.data.synthetic.incidental_words import ENDINGS, MODIFIERS, ROOTS, SITES


@functools.lru_cache(maxsize=8)
def catalogue(seed: int, size: int) -> tuple[str, ...]:
    """The wordings of a corpus' R incidental findings, most frequent first: distinct (modifier,
    term, site) combinations in an order fixed by the corpus seed."""
    combos = list(itertools.product(MODIFIERS, ROOTS, ENDINGS, SITES))
    order = np.random.default_rng([seed, streams.INCIDENTAL]).permutation(len(combos))[:size]
    return tuple(f"{combos[i][0]} {combos[i][1]}{combos[i][2]} near the {combos[i][3]}"
                 for i in order)


@functools.lru_cache(maxsize=8)
def _probabilities(size: int, exponent: float) -> np.ndarray:
    """The Zipf law over the catalogue, computed once per corpus rather than once per exam."""
    return zipf_probabilities(size, exponent)


def sample_incidental(index: int, cfg: SyntheticConfig) -> tuple[str, ...]:
    """The wordings of the exam's incidental findings (empty when the catalogue is off); drawn
    from their own stream, so turning the tail on changes no other part of an exam."""
    if cfg.incidental_catalogue == 0:
        return ()
    rng = streams.stream(cfg.seed, index, streams.INCIDENTAL)
    p = _probabilities(cfg.incidental_catalogue, cfg.incidental_zipf_exponent)
    items = rng.choice(cfg.incidental_catalogue, size=cfg.incidental_per_exam, p=p)
    wordings = catalogue(cfg.seed, cfg.incidental_catalogue)
    return tuple(wordings[int(i)] for i in items)
