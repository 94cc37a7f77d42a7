"""The knobs of the synthetic exam generator: one frozen dataclass, every field defaulted."""
import dataclasses

from usjax.data.synthetic.incidental_words import MAX_CATALOGUE

MAX_LESIONS = 3  # the taxonomy's exams show 0 to 3 lesions; placement is tuned for this many


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    seed: int = 0
    image_size: int = 128  # square views, H = W
    organ_zipf_exponent: float = 1.0  # P(organ of rank k) ~ k^-s, ranks in taxonomy order
    diagnosis_zipf_exponent: float = 1.0  # within an organ, over its prevalence-ranked diagnoses
    min_views: int = 2
    max_views: int = 12
    lesion_count_weights: tuple[float, ...] = (0.3, 0.35, 0.22, 0.13)  # P(0), P(1), ... lesions
    doppler_fraction: float = 0.25  # chance that a view is colour Doppler
    lesion_visibility: float = 0.6  # chance that a view other than the lesion's own shows it
    body_marker: bool = True  # the organ's pictogram in a corner of every view (body_marker.py)
    texture_bank_size: int = 8  # speckle and texture fields precomputed once per config
    # A long tail of rare, text-only incidental findings (incidental.py); 0 = none
    incidental_catalogue: int = 0  # R: distinct incidental findings
    incidental_zipf_exponent: float = 1.2  # P(finding of rank k) ~ k^-s
    incidental_per_exam: int = 3  # findings each report states (drawn with replacement)

    def __post_init__(self):
        def fail(field, why):
            raise ValueError(f"SyntheticConfig.{field}={getattr(self, field)!r}: {why}")

        if self.image_size < 32:
            fail("image_size", "must be at least 32 pixels")
        if self.organ_zipf_exponent < 0:
            fail("organ_zipf_exponent", "must be >= 0 (0 gives uniform organs)")
        if self.diagnosis_zipf_exponent < 0:
            fail("diagnosis_zipf_exponent", "must be >= 0 (0 gives uniform diagnoses)")
        if self.min_views < 2:
            fail("min_views", "must be at least 2 (an exam has several views)")
        if self.max_views < self.min_views:
            fail("max_views", f"must be >= min_views ({self.min_views})")
        weights = self.lesion_count_weights
        if not 1 <= len(weights) <= MAX_LESIONS + 1 or min(weights) < 0 or sum(weights) <= 0:
            fail("lesion_count_weights",
                 f"give 1 to {MAX_LESIONS + 1} non-negative weights for 0, 1, ... lesions")
        for field in ("doppler_fraction", "lesion_visibility"):
            if not 0.0 <= getattr(self, field) <= 1.0:
                fail(field, "must be a probability in [0, 1]")
        if self.texture_bank_size < 1:
            fail("texture_bank_size", "must be >= 1")
        if not 0 <= self.incidental_catalogue <= MAX_CATALOGUE:
            fail("incidental_catalogue", f"must be in [0, {MAX_CATALOGUE}] (0 = none)")
        if self.incidental_zipf_exponent <= 0:
            fail("incidental_zipf_exponent", "must be > 0")
        if self.incidental_per_exam < 1:
            fail("incidental_per_exam", "must be >= 1")
