"""Synthetic ultrasound exams: `generate_exam(index, SyntheticConfig(...))` -> `Exam`."""
from usjax.data.synthetic.config import SyntheticConfig
from usjax.data.synthetic.generate import generate_exam

__all__ = ["SyntheticConfig", "generate_exam"]
