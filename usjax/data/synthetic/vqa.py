"""Closed-set question-answer pairs derived from an exam's structured findings: one question per
taxonomy dimension (answered for the largest lesion, as `Exam.finding` defines the exam-level
target), plus the lesion count and the largest lesion's size."""
from usjax import taxonomy
from usjax.data.exam import Exam
from usjax.data.synthetic.config import MAX_LESIONS

_QUESTIONS = {
    "organ": "Which organ is examined?",
    "system": "Which body system does this exam belong to?",
    "diagnosis": "What is the diagnosis?",
    "shape": "What is the shape of the largest lesion?",
    "margins": "How are the margins of the largest lesion?",
    "echogenicity": "What is the echogenicity of the largest lesion?",
    "internal_characteristics": "What internal characteristics does the largest lesion show?",
    "posterior_acoustics": "Which posterior acoustic feature does the largest lesion show?",
    "vascularity": "What is the vascularity of the largest lesion?",
}
COUNT_QUESTION = ("How many focal lesions are there? Options: "
                  f"{', '.join(str(n) for n in range(MAX_LESIONS + 1))}.")
SIZE_QUESTION = "What is the largest diameter of the largest lesion?"
NO_LESION_ANSWER = "no lesion"


def _options(dimension):
    names = taxonomy.vocabulary(dimension)
    if dimension in taxonomy.LESION_DIMENSIONS and dimension != "diagnosis":
        names = names + (taxonomy.ABSENT_NAME,)
    return names


def _answer(exam, dimension):
    value = exam.finding(dimension)
    if value == taxonomy.ABSENT:
        return taxonomy.ABSENT_NAME
    return taxonomy.vocabulary(dimension)[value]


def question(dimension: str) -> str:
    if dimension == "organ":  # 52 options would drown the question
        return _QUESTIONS[dimension]
    return f"{_QUESTIONS[dimension]} Options: {', '.join(_options(dimension))}."


def exam_vqa(exam: Exam) -> list[tuple[str, str]]:
    pairs = [(question(dim), _answer(exam, dim)) for dim in taxonomy.DIMENSIONS]
    pairs.append((COUNT_QUESTION, str(len(exam.lesions))))
    largest = max((lesion.size_mm for lesion in exam.lesions), default=None)
    pairs.append((SIZE_QUESTION, NO_LESION_ANSWER if largest is None else f"{largest:g} mm"))
    return pairs
