"""The task mixture: every exam becomes one (prompt, target) pair of one of three tasks.

- report:   [bos]<report> [organ]               -> the exam's report; with `organ_in_prompt`
            the prompt names the exam's organ (the study that was ordered: what a radiologist
            knows before looking, and what the organ baseline is given), else it is empty
- vqa:      [bos]<vqa> question                 -> its answer (one of the exam's pairs, sampled)
- classify: [bos]<classify> "<dimension>?"      -> the value name of that taxonomy dimension
            (one of the nine that is annotated, sampled uniformly; "not present" for an absent
            optional finding)

All three are plain next-token prediction, so one generative model trains and is evaluated on all.
Records are TFDS `us_exams` examples parsed but not decoded (text as bytes, class ids as ints).
"""
import dataclasses
from collections.abc import Mapping

import numpy as np

from usjax import taxonomy
from usjax.data import tokenizer as tok

TASKS = ("report", "vqa", "classify")


@dataclasses.dataclass(frozen=True)
class TextTask:
    task: str
    prompt_ids: list[int]
    target_ids: list[int]
    reference: str  # target text, for metrics


def parse_weights(weights: Mapping[str, float], key: str = "data.tasks") -> dict[str, float]:
    """Validated task weights (config `key`), normalised to sum 1."""
    unknown = set(weights) - set(TASKS)
    if unknown:
        raise ValueError(f"{key} has unknown task(s) {sorted(unknown)}; known: {TASKS}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"{key} weights must be >= 0 with a positive sum, got {dict(weights)}")
    total = sum(weights.values())
    return {t: float(w) / total for t, w in weights.items() if w > 0}


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def stored_class(record: Mapping, dimension: str) -> int:
    """The stored class of one of the nine dimensions: a taxonomy id, len(vocabulary) for ABSENT,
    or -1 when a real exam was not annotated for it."""
    if dimension in taxonomy.EXAM_DIMENSIONS:
        return int(record[dimension])
    return int(record["findings"][dimension])


def labelled_dimensions(record: Mapping) -> list[str]:
    return [dim for dim in taxonomy.DIMENSIONS if stored_class(record, dim) >= 0]


def finding_name(record: Mapping, dimension: str) -> str:
    """Exam-level value name of a labelled dimension (ABSENT is stored as the last class)."""
    value = stored_class(record, dimension)
    names = taxonomy.vocabulary(dimension)
    return names[value] if value < len(names) else taxonomy.ABSENT_NAME


def _prompt(tokenizer: tok.Tokenizer, task: str, text: str = "") -> list[int]:
    return tokenizer.prompt_ids(task, text)


def exam_organ_name(record: Mapping) -> str:
    """The organ's taxonomy name; "" for an exam whose organ was not annotated (stored as -1)."""
    organ = int(record["organ"])
    return taxonomy.ORGANS[organ].name if organ >= 0 else ""


def report_task(record: Mapping, tokenizer: tok.Tokenizer, organ_in_prompt: bool = False
                ) -> TextTask:
    report = _text(record["report"])
    context = exam_organ_name(record) if organ_in_prompt else ""
    return TextTask("report", _prompt(tokenizer, "report", context), tokenizer.encode(report),
                    report)


def vqa_task(record: Mapping, pair: int, tokenizer: tok.Tokenizer) -> TextTask:
    question = _text(record["vqa"]["question"][pair])
    answer = _text(record["vqa"]["answer"][pair])
    return TextTask("vqa", _prompt(tokenizer, "vqa", question), tokenizer.encode(answer), answer)


def classify_task(record: Mapping, dimension: str, tokenizer: tok.Tokenizer) -> TextTask:
    name = finding_name(record, dimension)
    question = dimension.replace("_", " ") + "?"
    return TextTask("classify", _prompt(tokenizer, "classify", question), tokenizer.encode(name),
                    name)


def task_warmup_steps(config) -> int:
    """Steps of the task warm-up: data.task_warmup_fraction of train.steps (0: none)."""
    return round(config.data.task_warmup_fraction * config.train.steps)


def num_vqa_pairs(record: Mapping) -> int:
    return len(record["vqa"]["question"])


def sample_task(record: Mapping, weights: Mapping[str, float], rng: np.random.Generator,
                tokenizer: tok.Tokenizer, organ_in_prompt: bool = False) -> TextTask:
    """One task drawn with `weights` among those the exam supports: an exam without VQA pairs
    (or without any annotated dimension) draws among the other tasks."""
    dimensions = labelled_dimensions(record)
    possible = {"report": True, "vqa": num_vqa_pairs(record) > 0, "classify": bool(dimensions)}
    available = {t: w for t, w in weights.items() if possible[t]}
    if not available:
        raise ValueError(f"exam {_text(record['exam_id'])} supports none of the tasks "
                         f"{sorted(weights)} of data.tasks; give report a weight")
    names = list(available)
    probs = np.array([available[t] for t in names]) / sum(available.values())
    task = names[rng.choice(len(names), p=probs)]
    if task == "report":
        return report_task(record, tokenizer, organ_in_prompt)
    if task == "vqa":
        return vqa_task(record, int(rng.integers(num_vqa_pairs(record))), tokenizer)
    return classify_task(record, dimensions[rng.integers(len(dimensions))], tokenizer)
