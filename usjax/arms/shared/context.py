"""What an arm's `evaluate` reads: the validation split, its batches, and how to put them on the mesh.

    ctx.batches[k]            process-local numpy batch k of the validation split (report task,
                              data.batch_size rows in all, `eval/...` fields, labels, masks)
    ctx.to_global(batch)      the arm's INPUT_KEYS as global arrays sharded over the batch axes
    ctx.gather(x)             a global array's rows from every process, in global order (numpy)
    ctx.num_exams             how many leading validation exams the shared table uses
    with ctx.mesh_context():  mesh and logical rules active while tracing
"""
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import ml_collections
import numpy as np

from usjax.data import tokenizer as tok


@dataclasses.dataclass(frozen=True)
class EvalContext:
    config: ml_collections.ConfigDict
    tokenizer: tok.Tokenizer
    val_source: Sequence
    batches: Sequence[dict[str, np.ndarray]]
    num_exams: int
    to_global: Callable[[dict[str, np.ndarray]], dict[str, Any]]
    gather: Callable[[Any], np.ndarray]
    mesh_context: Callable[[], Any]
