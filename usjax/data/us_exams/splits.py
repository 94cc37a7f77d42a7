"""Assign every patient to one split, by a stable hash of the patient id.

All exams of a patient land in the same split, whatever the corpus size, seed or import order:
the split depends on nothing but the id.
"""
import hashlib

SPLITS = ("train", "validation", "test")
_BUCKET_BOUNDS = (80, 90)  # of 100 buckets: 80% train, 10% validation, 10% test
RULE = "sha256(patient_id) % 100: [0, 80) train, [80, 90) validation, [90, 100) test"


def split_of(patient_id: str) -> str:
    bucket = int.from_bytes(hashlib.sha256(patient_id.encode("utf-8")).digest()[:8], "big") % 100
    return SPLITS[sum(bucket >= bound for bound in _BUCKET_BOUNDS)]
