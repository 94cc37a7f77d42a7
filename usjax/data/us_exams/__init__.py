"""The `us_exams` TFDS dataset: importing this package registers the builder.

    from usjax.data import us_exams
    builder = us_exams.ensure_built("us_exams/1k", data_dir)      # builds once, then reuses
    train = builder.as_data_source("train")                      # random access, numpy records
    # or: tfds.data_source("us_exams/1k", data_dir=data_dir)["train"]

Configs: `1k`, `10k`, `100k` (synthetic, 128x128), `real` (import from manual_dir, see
`usjax.data.real_exams`), or an ad hoc `UsExamsConfig`. Splits train/validation/test by patient.
"""
from usjax.data.us_exams.builder import UsExams
from usjax.data.us_exams.config import STANDARD_CONFIGS, UsExamsConfig
from usjax.data.us_exams.ensure import ensure_built

__all__ = ["STANDARD_CONFIGS", "UsExams", "UsExamsConfig", "ensure_built"]
