"""How the reports say every taxonomy value, and the parser that reads them back.

`PHRASINGS[dimension][value_id]` is a tuple of interchangeable phrasings (matched ignoring case);
`ABSENT_PHRASINGS[dimension]` says that a lesion lacks an optional finding. The clinical-efficacy
metric parses generated reports with these tables, so every phrasing is unambiguous: matched as
whole words, no phrasing contains a phrasing of another value (of any dimension), and the report
templates add no phrasing of their own. tests/data/test_synthetic_report.py checks both.
"""
import re

from usjax import taxonomy


def _organ(name):
    return (f"ultrasound of the {name}", f"sonography of the {name}",
            f"sonographic examination of the {name}")


_LESION_PHRASINGS = {
    "diagnosis": {
        "nodule": ("nodule", "focal nodule", "discrete nodule"),
        "cyst": ("cyst", "cystic lesion", "simple-appearing cyst"),
        "mass": ("mass", "mass lesion", "space-occupying lesion"),
        "fluid collection": ("fluid collection", "collection of fluid",
                             "localised fluid collection"),
        "normal appearance": ("normal appearance", "sonographically unremarkable",
                              "no focal lesion"),
    },
    "shape": {
        "round": ("round", "rounded", "circular"),
        "oval": ("oval", "ovoid", "elliptical"),
        "lobulated": ("lobulated", "lobular", "multilobulated"),
        "tubular/linear": ("tubular", "linear", "elongated"),
        "nodular": ("nodular", "knobby", "bosselated"),
        "flattened": ("flattened", "flat", "compressed"),
        "irregular": ("irregular", "irregularly contoured", "angular"),
    },
    "margins": {
        "well-defined": ("well-defined", "well circumscribed", "sharply demarcated"),
        "ill-defined": ("ill-defined", "poorly circumscribed", "indistinct"),
    },
    "echogenicity": {
        "anechoic": ("anechoic", "echo-free", "devoid of internal echoes"),
        "hypoechoic": ("hypoechoic", "hypoechogenic", "of decreased echogenicity"),
        "isoechoic": ("isoechoic", "isoechogenic", "of similar echogenicity to the parenchyma"),
        "hyperechoic": ("hyperechoic", "hyperechogenic", "of increased echogenicity"),
        "mixed": ("of mixed echogenicity", "heterogeneously echogenic",
                  "of heterogeneous echogenicity"),
    },
    "internal_characteristics": {
        "cystic components": ("cystic components", "small cystic spaces",
                              "internal cystic areas"),
        "calcifications": ("calcifications", "punctate calcific foci", "internal calcification"),
        "septations": ("septations", "internal septa", "thin septations"),
        "solid components": ("solid components", "a solid mural component",
                             "solid internal elements"),
        "mixed cystic and solid": ("mixed cystic and solid content",
                                   "both cystic and solid portions",
                                   "a partly cystic, partly solid composition"),
        "complex cystic-solid": ("complex cystic-solid architecture",
                                 "a complex cystic-solid pattern",
                                 "complex cystic and solid internal structure"),
    },
    "posterior_acoustics": {
        "enhancement": ("posterior acoustic enhancement", "increased through-transmission",
                        "distal acoustic enhancement"),
        "shadowing": ("posterior acoustic shadowing", "distal acoustic shadowing",
                      "a posterior acoustic shadow"),
    },
    "vascularity": {
        "reduced": ("reduced vascularity", "decreased colour Doppler flow",
                    "sparse internal flow"),
        "normal": ("normal vascularity", "a normal colour Doppler flow pattern",
                   "physiological internal flow"),
        "none": ("no internal vascularity", "no colour Doppler flow", "absent internal flow"),
        "increased": ("increased vascularity", "increased colour Doppler flow",
                      "marked internal hypervascularity"),
        "indeterminate": ("indeterminate vascularity", "a non-diagnostic Doppler signal",
                          "vascularity that cannot be assessed reliably"),
    },
}

PHRASINGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "system": tuple((f"{s} protocol", f"{s} study") for s in taxonomy.SYSTEMS),
    "organ": tuple(_organ(name) for name in taxonomy.ORGAN_NAMES),
    **{dim: tuple(_LESION_PHRASINGS[dim][name] for name in taxonomy.vocabulary(dim))
       for dim in taxonomy.LESION_DIMENSIONS},
}

ABSENT_PHRASINGS: dict[str, tuple[str, ...]] = {
    "internal_characteristics": ("homogeneous internal content", "no internal architecture",
                                 "a uniform interior"),
    "posterior_acoustics": ("no posterior acoustic features", "no posterior acoustic change",
                            "neutral posterior acoustics"),
}


def _phrase_table() -> dict[str, tuple[str, int]]:
    """lower-cased phrasing -> (dimension, value id or ABSENT)."""
    table = {}
    for dim, values in PHRASINGS.items():
        for value, phrases in enumerate(values):
            table.update({phrase.lower(): (dim, value) for phrase in phrases})
    for dim, phrases in ABSENT_PHRASINGS.items():
        table.update({phrase.lower(): (dim, taxonomy.ABSENT) for phrase in phrases})
    return table


_PHRASE_TABLE = _phrase_table()
# One alternation, longest phrasing first, matched as whole words (a hyphen joins words).
_PATTERN = re.compile(r"(?<![\w-])(" + "|".join(
    re.escape(p) for p in sorted(_PHRASE_TABLE, key=len, reverse=True)) + r")(?![\w-])")


# The lesion count as the report templates state it ("No focal lesion is seen.", "Two focal lesions
# are identified.", "No focal lesion in the liver."); the number words are the count.
COUNT_WORDS = ("no", "one", "two", "three")
_COUNT_PATTERN = re.compile(r"(?<![\w-])(" + "|".join(COUNT_WORDS) + r") focal lesions?(?![\w-])")


def parse_lesion_count(text: str) -> int | None:
    """The number of lesions a report states (its first count statement), or None if it states
    none."""
    match = _COUNT_PATTERN.search(text.lower())
    return None if match is None else COUNT_WORDS.index(match.group(1))


def parse_findings(text: str) -> dict[str, set[int]]:
    """Every taxonomy value a report states, per dimension (ABSENT for "no ..." statements)."""
    found = {dim: set() for dim in taxonomy.DIMENSIONS}
    for match in _PATTERN.finditer(text.lower()):
        dim, value = _PHRASE_TABLE[match.group(1)]
        found[dim].add(value)
    return found
