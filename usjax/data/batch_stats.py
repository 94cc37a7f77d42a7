"""What the training loop logs about its input: one dict of floats per (process-local) batch.

A batch carries the five model inputs of the batch contract plus per-row statistics under the
`stats/` prefix (numpy, never fed to the model; `model_inputs` drops them):
  stats/truncated      bool  [B]  the target text was cut to fit data.text_len
  stats/skipped        bool  [B]  the record failed to decode and data.skip_bad_records emptied
                                  the row (all masks zero, so it adds nothing to the loss)
  stats/views_in_exam  int32 [B]  views the exam has before choosing at most data.max_images
  stats/task           int32 [B]  index into usjax.data.tasks.TASKS
  stats/epoch          int32 [B]  pass over the training subset this row comes from
"""
from collections.abc import Mapping

import numpy as np

from usjax.data.tasks import TASKS

MODEL_KEYS = ("images", "image_mask", "tokens", "loss_mask", "text_mask")
STATS_PREFIX = "stats/"


def model_inputs(batch: Mapping[str, np.ndarray], keys=MODEL_KEYS) -> dict[str, np.ndarray]:
    """The arrays of `keys` (an arm's INPUT_KEYS; default the language model's five)."""
    missing = [k for k in keys if k not in batch]
    if missing:
        raise KeyError(f"the batch has no {missing[0]!r}; the arm needs {tuple(keys)} (masks "
                       f"need config.data.with_masks=True)")
    return {k: batch[k] for k in keys}


def summarize(batch: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Loggable scalars: sums are per batch, fractions and means per row or token."""
    rows = batch["tokens"].shape[0]
    summary = {
        "text_tokens": float(batch["text_mask"].sum()),
        "target_tokens": float(batch["loss_mask"].sum()),
        "padding_fraction": float(1.0 - batch["text_mask"].mean()),
        "truncated_targets": float(batch["stats/truncated"].sum()),
        "skipped_records": float(batch["stats/skipped"].sum()),
        "images_per_exam": float(batch["image_mask"].sum(axis=1).mean()),
        "views_dropped": float((batch["stats/views_in_exam"]
                                - batch["image_mask"].sum(axis=1)).clip(min=0).sum()),
        "epoch": float(batch["stats/epoch"].max()),
    }
    for i, task in enumerate(TASKS):
        summary[f"task_fraction/{task}"] = float((batch["stats/task"] == i).sum() / rows)
    return summary
