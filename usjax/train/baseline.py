"""The trivial baseline every metric is compared with: answer from the organ alone.

For report generation it predicts the most frequent training report of the exam's organ; for a
VQA question, the most frequent training answer to that question for that organ. Ties go to the
text seen first, so the baseline is deterministic. An organ (or organ and question) absent from
the training split falls back to the most frequent report (answer) over all organs: that is still
"the most frequent training text", just with less conditioning, and it is what a reader would
expect the baseline to say.
"""
import collections
import dataclasses
from collections.abc import Iterable


def _most_common(counter: collections.Counter) -> str:
    # Counter.most_common keeps insertion order among equal counts: the first seen text wins.
    return counter.most_common(1)[0][0]


@dataclasses.dataclass(frozen=True)
class OrganBaseline:
    report_by_organ: dict[int, str]
    any_report: str
    answer_by_organ_question: dict[tuple[int, str], str]
    answer_by_question: dict[str, str]

    def report(self, organ: int) -> str:
        return self.report_by_organ.get(organ, self.any_report)

    def answer(self, organ: int, question: str) -> str:
        return self.answer_by_organ_question.get(
            (organ, question), self.answer_by_question.get(question, ""))


def fit(train_exams: Iterable[tuple[int, str, list[tuple[str, str]]]]) -> OrganBaseline:
    """`train_exams` yields (organ id, report, [(question, answer), ...]) per training exam."""
    reports = collections.defaultdict(collections.Counter)
    all_reports = collections.Counter()
    answers = collections.defaultdict(collections.Counter)
    all_answers = collections.defaultdict(collections.Counter)
    for organ, report, vqa in train_exams:
        reports[organ][report] += 1
        all_reports[report] += 1
        for question, answer in vqa:
            answers[(organ, question)][answer] += 1
            all_answers[question][answer] += 1
    if not all_reports:
        raise ValueError("the baseline needs at least one training exam; the train split is empty")
    return OrganBaseline(
        report_by_organ={o: _most_common(c) for o, c in reports.items()},
        any_report=_most_common(all_reports),
        answer_by_organ_question={k: _most_common(c) for k, c in answers.items()},
        answer_by_question={q: _most_common(c) for q, c in all_answers.items()})
