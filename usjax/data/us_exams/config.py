"""Builder configs of `us_exams`: the registered corpus sizes, the real-exam import, ad hoc ones.

    UsExamsConfig(name="tiny", num_exams=48, image_size=64)   # a tiny synthetic corpus for tests
    UsExamsConfig(name="real_skip", source="real", skip_bad_exams=True)

The name is the directory under `data_dir/us_exams/`: give different settings different names.
"""
import dataclasses
from typing import Any

import tensorflow_datasets as tfds

SOURCES = ("synthetic", "real")


@dataclasses.dataclass(eq=False)
class UsExamsConfig(tfds.core.BuilderConfig):
    source: str = "synthetic"  # "synthetic" (usjax.data.synthetic) or "real" (manual_dir import)
    # synthetic corpus
    num_exams: int = 1000
    image_size: int = 128
    seed: int = 0
    generator_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # other
    # SyntheticConfig fields, e.g. {"organ_zipf_exponent": 1.2}
    # real import
    skip_bad_exams: bool = False  # skip bad exams (recorded in metadata) instead of stopping

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"UsExamsConfig {self.name!r}: source {self.source!r} is not one of "
                             f"{', '.join(SOURCES)}")
        if self.source == "synthetic" and self.num_exams < 1:
            raise ValueError(f"UsExamsConfig {self.name!r}: num_exams must be >= 1, "
                             f"got {self.num_exams}")


STANDARD_CONFIGS = (
    UsExamsConfig(name="1k", num_exams=1_000,
                  description="1,000 synthetic exams, 128x128 views, seed 0."),
    UsExamsConfig(name="10k", num_exams=10_000,
                  description="10,000 synthetic exams, 128x128 views, seed 0."),
    UsExamsConfig(name="100k", num_exams=100_000,
                  description="100,000 synthetic exams, 128x128 views, seed 0."),
    # The quickstart's scaling corpus: small views, and a Zipfian tail of rare incidental
    # findings in the reports (usjax/data/synthetic/incidental.py), so that learning curves have
    # the heavy tail real report text has instead of ending at the phrasing entropy.
    UsExamsConfig(name="2k_tail", num_exams=2_000, image_size=64,
                  generator_options={"incidental_catalogue": 20_000,
                                     "incidental_zipf_exponent": 1.1, "incidental_per_exam": 6},
                  description="2,000 synthetic exams, 64x64 views, seed 0, reports with a Zipfian "
                              "tail of 20,000 rare incidental findings (6 per report)."),
    UsExamsConfig(name="real", source="real",
                  description="Real exams imported from manual_dir (see usjax.data.real_exams)."),
)
