"""Exam and patient ids, derived from the exam index alone.

Indices come in blocks of 8 that belong to 5 patients, with 1, 1, 1, 2 and 3 exams: about a
third of patients have several exams, which is what makes splitting by patient matter.
"""
_PATIENT_SLOT = (0, 1, 2, 3, 3, 4, 4, 4)  # patient within a block, for each index in the block
_PATIENTS_PER_BLOCK = max(_PATIENT_SLOT) + 1


def exam_id(seed: int, index: int) -> str:
    return f"synthetic-s{seed}-e{index:08d}"


def patient_number(index: int) -> int:
    block, offset = divmod(index, len(_PATIENT_SLOT))
    return block * _PATIENTS_PER_BLOCK + _PATIENT_SLOT[offset]


def patient_id(seed: int, index: int) -> str:
    return f"synthetic-s{seed}-p{patient_number(index):08d}"
