"""Assemble the global batch from every process's local rows (multi-host data parallelism).

Each JAX process holds rows [p*B/P, (p+1)*B/P) of global batch k (see usjax.data.pipeline);
`jax.make_array_from_process_local_data` stitches them into one array sharded over the mesh.
"""
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec



def global_batch(local_batch: Mapping[str, np.ndarray], mesh: Mesh,
                 batch_spec: PartitionSpec) -> dict[str, jax.Array]:
    """Every array of `local_batch` (the model inputs: `batch_stats.model_inputs`) as a global
    jax.Array; `batch_spec` shards the leading (batch) axis."""
    sharding = NamedSharding(mesh, batch_spec)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local_batch.items()}
