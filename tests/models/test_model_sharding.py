"""On a (data=2, fsdp=2, tensor=2) mesh of 8 CPU devices: same loss and gradients as one device,
parameters placed as the config's rules say, and a different layout is only a config change."""
import jax
import numpy as np
from flax import nnx
from jax.sharding import PartitionSpec as P

from experiments.base import get_config
from tests.models.conftest import _loss_and_grads, build_model, loss_and_grads, tiny_batch, tiny_config
from usjax.models import sharding


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def mesh_section(**axes):
    section = get_config().mesh
    for key, value in axes.items():
        section[key] = value
    return section


def test_sharded_step_equals_single_device_and_follows_rules():
    assert jax.device_count() == 8
    b = tiny_batch(batch=4)
    cfg = tiny_config()
    ref_loss, ref_grads = loss_and_grads(build_model(cfg), b)

    section = mesh_section(data=2, fsdp=2, tensor=2)
    mesh, rules = sharding.make_mesh(section), sharding.axis_rules(section)
    model = build_model(cfg)
    sharding.shard_model(model, mesh, rules)
    batch = jax.device_put(b, {k: sharding.batch_shardings(mesh, rules)[k] for k in b})
    with sharding.activation_context(mesh, rules):
        loss, grads = nnx.jit(_loss_and_grads)(model, batch)

    assert rel_err(loss, ref_loss) < 1e-5
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        assert rel_err(g, r) < 1e-5

    # parameters sit where the rules put them
    assert model.decoder.layers.self_attn.q_proj.kernel[...].sharding.spec == P(None, "fsdp", "tensor")
    assert model.decoder.layers.mlp.down_proj.kernel[...].sharding.spec == P(None, "tensor", "fsdp")
    assert model.decoder.embed_tokens[...].sharding.spec == P("tensor", "fsdp")
    assert model.vision.blocks.fc1.kernel[...].sharding.spec == P(None, "fsdp", "tensor")
    assert all(a is None for a in model.decoder.layers.input_layernorm.scale[...].sharding.spec)
    assert batch["images"].sharding.spec[0] == ("data", "fsdp")
    shard = model.decoder.layers.mlp.gate_proj.kernel[...].addressable_shards[0].data
    assert shard.shape == (cfg.layers, cfg.hidden // 2, cfg.intermediate // 2)

    # a different layout is a config change: pure data parallelism replicates every weight
    section = mesh_section(data=8, fsdp=1, tensor=1)
    section.rules = (("batch", ("data", "fsdp")),)
    mesh = sharding.make_mesh(section)
    specs = sharding.state_shardings(nnx.state(model), mesh, sharding.axis_rules(section))
    assert all(s.spec == P() or all(a is None for a in s.spec) for s in jax.tree.leaves(specs))


def test_mesh_errors_name_the_key():
    import pytest
    with pytest.raises(ValueError, match="config.mesh"):
        sharding.make_mesh(mesh_section(data=3, fsdp=1, tensor=1))
    with pytest.raises(ValueError, match="config.mesh.rules"):
        sharding.axis_rules(mesh_section(rules=(("embed", "model"),)))
