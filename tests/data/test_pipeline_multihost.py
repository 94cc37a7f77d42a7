"""Two real JAX processes (2 CPU devices each, gloo collectives): each reads only its own rows,
and `global_batch` assembles exactly the batch a single process would read."""
import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests import xla_env
from usjax.data import pipeline
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_WORKER = r"""
import json, sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
port, pid, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
import numpy as np
from jax.sharding import PartitionSpec
from usjax.data import global_batch, pipeline
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config
source = memory_source(12, directory)
config = tiny_config(batch_size=8)
tokenizer = pipeline.tokenizer_from_source(config, source)
local = pipeline.train_dataset(config, source, tokenizer, exam_records(range(12)),
                               jax.process_index(), jax.process_count())[1]
arrays = global_batch.global_batch(local, jax.make_mesh((4,), ("data",)), PartitionSpec("data"))
row_sums = jax.jit(lambda t: t.sum(axis=1), out_shardings=jax.sharding.NamedSharding(
    jax.make_mesh((4,), ("data",)), PartitionSpec()))(arrays["tokens"])
if pid == 0:
    print(json.dumps({"shape": list(arrays["tokens"].shape),
                      "row_sums": np.asarray(row_sums).tolist()}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_assemble_the_single_process_batch(tmp_path):
    port = str(_free_port())
    env = xla_env.env_with_devices(2, PYTHONPATH=REPO, JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, port, str(i), str(tmp_path / str(i))],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
    result = json.loads(outputs[0][0].strip().splitlines()[-1])

    source = memory_source(12, tmp_path / "single")
    config = tiny_config(batch_size=8)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    whole = pipeline.train_dataset(config, source, tokenizer, exam_records(range(12)), 0, 1)[1]
    assert result["shape"] == list(whole["tokens"].shape)
    np.testing.assert_array_equal(result["row_sums"], whole["tokens"].sum(axis=1))
