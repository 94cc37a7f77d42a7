"""Clinical efficacy: does a generated report state the exam's findings?

For each of the nine taxonomy dimensions we compare the set of values a generated report states
(parsed with the generator's phrasings, `usjax.data.synthetic.phrasings.parse_findings`) with the
set of values the exam really has (its organ, its system, and the values of all its lesions;
diagnosis "normal appearance" for an exam without lesions). Counts are pooled over exams
(micro-average), so an exam with three lesions weighs more than a normal one, as in a radiologist's
read-out. With nothing stated, precision is 0 (1 if there was also nothing to find); with nothing
to find, recall is 0 (1 if nothing was stated either): a dimension absent from both sides scores
F1 = 1, nothing missed and nothing invented.

Beside them, the lesion count a report states ("Two focal lesions are identified.") against the
exam's: `clinical/lesion_count/accuracy`, and `clinical/lesion_presence/accuracy` (any lesion or
none). A report's content hinges on that one statement, so these two say whether a model reads
lesions from the views at all; a report that states no count is wrong on both. Exams whose lesions
were not annotated (real exams, stored -1) are left out of them.
"""
from collections.abc import Mapping, Sequence

import numpy as np

from usjax import taxonomy

ValueSets = Mapping[str, set[int]]


def truth_from_record(record: Mapping) -> dict[str, set[int]]:
    """The value sets of one `us_exams` record (numpy form, ABSENT stored as the last class)."""
    lesions = record["lesions"]
    truth = {"organ": {int(record["organ"])}, "system": {int(record["system"])}}
    for dim in taxonomy.LESION_DIMENSIONS:
        absent_class = len(taxonomy.vocabulary(dim))
        truth[dim] = {int(v) for v in np.asarray(lesions[dim]).reshape(-1) if v != absent_class}
    if not truth["diagnosis"]:
        truth["diagnosis"] = {taxonomy.NORMAL_DIAGNOSIS}
    return truth


def stated_values(report: str) -> dict[str, set[int]]:
    """The taxonomy values a report states, per dimension (system from the stated organ)."""
    from usjax.data.synthetic import phrasings  # the generator owns the phrasings

    parsed = phrasings.parse_findings(report)
    stated = {dim: {int(v) for v in parsed.get(dim, ()) if int(v) != taxonomy.ABSENT}
              for dim in taxonomy.DIMENSIONS}
    if not stated["system"]:
        stated["system"] = {taxonomy.ORGANS[o].system_id for o in stated["organ"]}
    return stated


def efficacy(predicted: Sequence[ValueSets], truth: Sequence[ValueSets]) -> dict[str, float]:
    """Micro-averaged precision, recall and F1 per dimension, keyed 'clinical/<dim>/<p|r|f1>',
    plus 'clinical/mean_f1' over the nine dimensions."""
    if len(predicted) != len(truth) or not truth:
        raise ValueError(f"clinical efficacy needs one prediction per exam; got {len(predicted)} "
                         f"predictions for {len(truth)} exams")
    scores = {}
    for dim in taxonomy.DIMENSIONS:
        tp = sum(len(p.get(dim, set()) & t.get(dim, set())) for p, t in zip(predicted, truth))
        n_pred = sum(len(p.get(dim, set())) for p in predicted)
        n_true = sum(len(t.get(dim, set())) for t in truth)
        precision = tp / n_pred if n_pred else float(n_true == 0)
        recall = tp / n_true if n_true else float(n_pred == 0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.update({f"clinical/{dim}/precision": precision, f"clinical/{dim}/recall": recall,
                       f"clinical/{dim}/f1": f1})
    scores["clinical/mean_f1"] = float(np.mean(
        [scores[f"clinical/{dim}/f1"] for dim in taxonomy.DIMENSIONS]))
    return scores


def lesion_count_of_record(record: Mapping) -> int | None:
    """The exam's number of lesions; None when its lesions were not annotated."""
    if int(record["findings"]["diagnosis"]) < 0:
        return None
    return len(record["lesions"]["diagnosis"])


def count_accuracy(stated: Sequence[int | None], truth: Sequence[int | None]) -> dict[str, float]:
    """Accuracy of the stated lesion counts (None: the report states none) over the exams whose
    count is known; {} when there is none."""
    pairs = [(s, t) for s, t in zip(stated, truth, strict=True) if t is not None]
    if not pairs:
        return {}
    return {"clinical/lesion_count/accuracy": float(np.mean([s == t for s, t in pairs])),
            "clinical/lesion_presence/accuracy": float(np.mean(
                [s is not None and (s > 0) == (t > 0) for s, t in pairs]))}


def report_efficacy(reports: Sequence[str], records: Sequence[Mapping]) -> dict[str, float]:
    from usjax.data.synthetic import phrasings  # the generator owns the phrasings

    stated = [stated_values(r) for r in reports]
    return {**efficacy(stated, [truth_from_record(r) for r in records]),
            **count_accuracy([phrasings.parse_lesion_count(r) for r in reports],
                             [lesion_count_of_record(r) for r in records])}
