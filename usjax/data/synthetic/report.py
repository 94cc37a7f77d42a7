"""The long-form report of an exam: Findings (organ, then each lesion's location, size, shape,
margins, echogenicity, internal content, posterior acoustics and vascularity) and Impression.

Every value is written with a randomly chosen phrasing (phrasings.py) and the sentences about a
lesion come in random order, so identical findings give different texts. The glue text below
never contains a phrasing, which keeps reports parseable by `phrasings.parse_findings`.
"""
from collections.abc import Sequence

import numpy as np

from usjax import taxonomy
from usjax.data.exam import Lesion
from usjax.data.synthetic.phrasings import ABSENT_PHRASINGS, PHRASINGS

_ORGAN_SENTENCES = ("Normal size and regular background echotexture of the {organ}.",
                    "Background parenchyma of the {organ}: regular size and texture.",
                    "Regular background echotexture of the {organ}.")
_NO_LESION = ("No focal lesion is seen.", "No focal lesion is demonstrated.")
_COUNTS = ("One focal lesion is identified.", "Two focal lesions are identified.",
           "Three focal lesions are identified.")
_INTRO = ("In the {loc} there is a {size} mm {diagnosis}.",
          "A {size} mm {diagnosis} is seen in the {loc}.",
          "There is a {diagnosis} in the {loc}, measuring {size} mm.",
          "The {loc} contains a {diagnosis} of {size} mm.")
_ATTRIBUTE_SENTENCES = {
    "shape": ("It is {x} in shape.", "Its shape is {x}.", "The outline is {x}."),
    "margins": ("Its margins are {x}.", "The margins are {x}."),
    "echogenicity": ("It is {x}.", "On greyscale it appears {x}."),
    "internal_characteristics": ("It contains {x}.", "Internally it shows {x}.",
                                 "Internal content: {x}."),
    "posterior_acoustics": ("There is {x}.", "It shows {x}.", "Posterior acoustics: {x}."),
    "vascularity": ("On Doppler interrogation there is {x}.", "Doppler shows {x}.",
                    "Vascularity assessment: {x}."),
}
_NORMAL_IMPRESSION = ("Normal appearance of the {organ}.", "Sonographically unremarkable {organ}.",
                      "No focal lesion in the {organ}.")
_CLOSING = ("Clinical correlation is recommended.", "Follow-up imaging may be considered.",
            "Correlation with prior imaging is advised.")


def _pick(options, rng):
    return options[int(rng.integers(len(options)))]


def _capitalise(sentence):
    return sentence[0].upper() + sentence[1:]


def _phrase(dimension, value, rng):
    if value == taxonomy.ABSENT:
        return _pick(ABSENT_PHRASINGS[dimension], rng)
    return _pick(PHRASINGS[dimension][value], rng)


def _size(lesion):
    return f"{lesion.size_mm:g}"


def _lesion_paragraph(number, lesion, several, rng):
    intro = _pick(_INTRO, rng).format(loc=lesion.location, size=_size(lesion),
                                      diagnosis=_phrase("diagnosis", lesion.diagnosis, rng))
    sentences = [_capitalise(_pick(templates, rng).format(x=_phrase(dim, lesion.value(dim), rng)))
                 for dim, templates in _ATTRIBUTE_SENTENCES.items()]
    order = rng.permutation(len(sentences))
    prefix = f"Lesion {number}: " if several else ""
    return prefix + " ".join([_capitalise(intro)] + [sentences[i] for i in order])


def _impression(organ, lesions, rng):
    if not lesions:
        return _pick(_NORMAL_IMPRESSION, rng).format(organ=organ)
    items = [f"a {_size(lesion)} mm {_phrase('diagnosis', lesion.diagnosis, rng)} in the "
             f"{lesion.location}" for lesion in lesions]
    if len(items) == 1:
        summary = _capitalise(f"{items[0]} of the {organ}.")
    else:
        numbered = "; ".join(f"({k}) {item}" for k, item in enumerate(items, start=1))
        summary = f"{len(items)} lesions of the {organ}: {numbered}."
    if rng.random() < 0.5:
        summary += " " + _pick(_CLOSING, rng)
    return summary


def write_report(organ_id: int, lesions: Sequence[Lesion], rng: np.random.Generator,
                 incidental: Sequence[str] = ()) -> str:
    """incidental: wordings of rare incidental findings (incidental.py), stated after the organ
    sentence; they draw nothing from `rng`, so the rest of the text does not depend on them."""
    organ = taxonomy.ORGAN_NAMES[organ_id]
    system_id = taxonomy.ORGANS[organ_id].system_id
    header = (f"{_capitalise(_phrase('organ', organ_id, rng))} "
              f"({_phrase('system', system_id, rng)}).")
    findings = [header, _pick(_ORGAN_SENTENCES, rng).format(organ=organ)]
    if incidental:
        findings.append(f"Incidental: {'; '.join(incidental)}.")
    if lesions:
        findings.append(_COUNTS[len(lesions) - 1])
        findings += [_lesion_paragraph(k, lesion, len(lesions) > 1, rng)
                     for k, lesion in enumerate(lesions, start=1)]
    else:
        findings.append(_pick(_NO_LESION, rng))
    return f"Findings: {' '.join(findings)}\n\nImpression: {_impression(organ, lesions, rng)}"
