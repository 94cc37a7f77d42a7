"""(organ id, number of views) of every exam of a split: what alignment needs, cached on disk.

Reading it means parsing every record (about a millisecond each), minutes for a 100k-exam split,
so it is computed once and stored beside the dataset as `exam_meta_<split>.npz`, tagged with the
dataset key; a file tagged for another dataset is an error, as for the tokenizer.
"""
import io
from collections.abc import Sequence

import numpy as np
from etils import epath

from usjax.atomic import atomic_write


def _compute(source: Sequence) -> np.ndarray:
    meta_N2 = np.zeros((len(source), 2), np.int64)
    for i in range(len(source)):
        record = source[i]
        meta_N2[i] = int(record["organ"]), len(record["images"])
    return meta_N2


def split_meta(source) -> np.ndarray:
    """int64 [N, 2]: (organ id, views) per record of `source` (a corpus.ParsedSource)."""
    path = epath.Path(source.dataset_dir) / f"exam_meta_{source.split}.npz"
    if path.exists():
        with np.load(io.BytesIO(path.read_bytes())) as stored:
            if str(stored["dataset_key"]) != source.dataset_key:
                raise ValueError(
                    f"{path} was computed for dataset {str(stored['dataset_key'])!r}, not "
                    f"{source.dataset_key!r}; delete it to recompute")
            return stored["meta"]
    meta_N2 = _compute(source)
    buffer = io.BytesIO()
    np.savez(buffer, meta=meta_N2, dataset_key=np.array(source.dataset_key))
    atomic_write(path, buffer.getvalue())
    return meta_N2
