"""Train-step throughput and checkpoint speed: `python -m usjax.benchmarks.train`.

For each preset: the real jit-compiled, sharded train step of `usjax.train.step` on all local
devices, fed random batches of the contract's shapes (input never bounds the figure), timed over
--steps steps after compilation. Prints tokens/s (image tokens of real views plus non-pad text),
examples/s, analytic TFLOP/s and MFU (`usjax.train.mfu`: measured matmul peak on CPU, table peak on
TPU). Then the Orbax save (until committed) and restore time of the largest preset's train state.
"""
import tempfile
import time

from absl import app
from absl import flags
import grain
import jax
import numpy as np

from experiments import base
from usjax import taxonomy
from usjax.data import global_batch
from usjax.train import checkpoints, mfu, model_setup, run_accounting
from usjax.train import optimizer as optimizer_lib
from usjax.train import step as step_lib

_PRESETS = flags.DEFINE_list("presets", ["s2", "s4", "s6"], "model presets to time")
_STEPS = flags.DEFINE_integer("steps", 5, "timed steps per preset (after one compiling step)")
_BATCH = flags.DEFINE_integer("batch_size", 16, "global batch (exams)")


def _config(preset: str):
    config = base.get_config()
    config.model.preset = preset
    config.data.batch_size = _BATCH.value
    config.train.steps = 1000
    return config


def _random_batch(config, rng: np.random.Generator) -> dict[str, np.ndarray]:
    d, b = config.data, config.data.batch_size
    lengths = rng.integers(d.text_len // 2, d.text_len + 1, b)
    text_mask = np.arange(d.text_len)[None] < lengths[:, None]
    return {"images": rng.integers(0, 256, (b, d.max_images, d.image_size, d.image_size, 3),
                                   dtype=np.uint8),
            "image_mask": np.ones((b, d.max_images), bool),
            "tokens": np.where(text_mask, rng.integers(4, 1000, (b, d.text_len)), 0).astype(
                np.int32),
            "loss_mask": (text_mask & (np.arange(d.text_len)[None] >= 2)).astype(np.float32),
            "text_mask": text_mask,
            "labels": np.full((b, len(taxonomy.DIMENSIONS)), -1, np.int32)}


def time_preset(preset: str, peak: float):
    config = _config(preset)
    setup = model_setup.prepare(config)
    tx = optimizer_lib.create(config)
    graphdef, state, shardings = model_setup.init_state(config, setup, tx)
    step = step_lib.jit_train_step(graphdef, tx, config.train.micro_batches,
                                   shardings.state, shardings.batch,
                                   model_setup.loss_fn(config))
    accounting = run_accounting.RunAccounting(config, setup, jax.device_count())
    rng = np.random.default_rng(0)
    batch = global_batch.global_batch(_random_batch(config, rng), setup.mesh, shardings.batch_spec)
    with setup.mesh_context():
        start = time.perf_counter()
        state, metrics = step(state, batch, np.float32(config.train.learning_rate))
        jax.block_until_ready(metrics)
        compile_s = time.perf_counter() - start
        tokens = 0
        start = time.perf_counter()
        for _ in range(_STEPS.value):
            state, metrics = step(state, batch, np.float32(config.train.learning_rate))
            metrics = jax.device_get(metrics)
            tokens += int(metrics["real_views"]) * accounting.tokens_per_view + int(
                metrics["text_tokens"])
        seconds = (time.perf_counter() - start) / _STEPS.value
    flops = accounting.flops_per_example * config.data.batch_size
    print(f"{preset:>5} | params {setup.param_counts['total'] / 1e6:6.2f}M | step {seconds:7.3f} s"
          f" | {tokens / _STEPS.value / seconds:9.0f} tokens/s | "
          f"{config.data.batch_size / seconds:7.2f} examples/s | {flops / seconds / 1e12:7.4f} "
          f"TFLOP/s | MFU {mfu.mfu(flops, seconds, jax.device_count(), peak):6.1%} | "
          f"first step (compile) {compile_s:5.1f} s", flush=True)
    return config, state


def time_checkpoint(config, state) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        mngr = checkpoints.manager(workdir, config)
        data = iter(grain.MapDataset.range(10).to_iter_dataset())
        size = sum(x.nbytes for x in jax.tree.leaves(state))
        start = time.perf_counter()
        checkpoints.save(mngr, 1, state, data, {}, force=True)
        blocking = time.perf_counter() - start
        mngr.wait_until_finished()
        total = time.perf_counter() - start
        start = time.perf_counter()
        restored = checkpoints.restore_latest(mngr, checkpoints.abstract_like(state), data)
        jax.block_until_ready(restored[1])
        restore = time.perf_counter() - start
        mngr.close()
    print(f"checkpoint of {config.model.preset} ({size / 2**20:.1f} MiB train state): save "
          f"blocks {blocking:.2f} s, committed after {total:.2f} s; restore {restore:.2f} s")


def main(argv):
    del argv
    peak = mfu.peak_flops_per_device()
    print(f"{jax.device_count()} {jax.devices()[0].platform} device(s); peak per device "
          f"{peak.flops_per_s / 1e9:.1f} GFLOP/s ({peak.source}); global batch {_BATCH.value}")
    last = None
    for preset in _PRESETS.value:
        last = time_preset(preset, peak.flops_per_s)
    time_checkpoint(*last)


if __name__ == "__main__":
    app.run(main)
