"""Expert parallelism: on a (fsdp=2, expert=2, tensor=2) mesh of 8 CPU devices the MoE model's loss
(LM loss + coef * load-balance loss) and gradients equal one device's, experts sit on the "expert"
axis and the batch is split over it too (GShard)."""
import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from experiments.base import get_config
from tests.models.conftest import build_model, tiny_batch, tiny_config
from usjax.models import sharding
from usjax.train.loss import next_token_loss

COEF = 0.1  # large, so the router's load-balance gradient is visible in the comparison


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


@nnx.jit
def loss_and_grads(model, b):
    def loss_fn(m):
        logits, aux = m.forward(b["images"], b["image_mask"], b["tokens"], b["text_mask"], b["region"])
        return next_token_loss(logits, b["tokens"], b["loss_mask"])[0] + COEF * aux["load_balance_loss"]
    return nnx.value_and_grad(loss_fn)(model)


def test_expert_parallel_equals_one_device():
    assert jax.device_count() == 8
    b = dict(tiny_batch(batch=4), region=np.array([0, 3, -1, 8], np.int32))
    # capacity_factor 1.0 drops assignments: the sharded step must drop exactly the same ones
    cfg = tiny_config(moe=dict(experts=4, top_k=2, capacity_factor=1.0, region_routing=True))
    ref_loss, ref_grads = loss_and_grads(build_model(cfg), b)

    section = get_config().mesh
    section.data, section.fsdp, section.expert, section.tensor = 1, 2, 2, 2
    mesh, rules = sharding.make_mesh(section), sharding.axis_rules(section)
    model = build_model(cfg)
    sharding.shard_model(model, mesh, rules)
    spec = {k: sharding.logical_to_spec(("batch",) + (None,) * (np.ndim(v) - 1), rules) for k, v in b.items()}
    batch = jax.device_put(b, {k: NamedSharding(mesh, s) for k, s in spec.items()})
    with sharding.activation_context(mesh, rules):
        loss, grads = loss_and_grads(model, batch)

    assert rel_err(loss, ref_loss) < 1e-5
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        assert rel_err(g, r) < 1e-5
    experts = model.decoder.layers.moe.experts
    assert experts.gate[...].sharding.spec == P(None, "expert", "fsdp", "tensor")
    assert experts.down[...].sharding.spec == P(None, "expert", "tensor", "fsdp")
    shard = experts.up[...].addressable_shards[0].data
    assert shard.shape == (cfg.layers, 2, cfg.hidden // 2, cfg.expert_hidden // 2)
    assert "expert" in batch["tokens"].sharding.spec[0]  # tokens are data-parallel over experts too


def test_expert_axis_defaults_to_one_and_then_leaves_layouts_unchanged():
    section = get_config().mesh
    del section["expert"]  # configs written before the expert axis
    mesh = sharding.make_mesh(section)
    assert mesh.shape["expert"] == 1 and mesh.shape["data"] == 8
    rules = dict(sharding.axis_rules(section)[:2])
    assert rules == {"expert": None, "batch": ("data", "fsdp")}
    section.data, section.expert = 4, -1
    assert sharding.make_mesh(section).shape["expert"] == 2
