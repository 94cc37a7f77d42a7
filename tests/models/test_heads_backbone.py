"""backbone.load_backbone copies a generative run's vision encoder into the heads arm's state."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from tests.models.conftest import build_model, tiny_config
from tests.models.test_heads_model import heads_config
from usjax.arms import heads
from usjax.arms.heads import backbone
from usjax.train.state import TrainState


def train_state(model, filters):
    _, params, frozen, rest = nnx.split(model, *filters, ...)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, frozen=frozen, rest=rest,
                      opt_state=optax.sgd(0.1).init(params))


def save_run(workdir, state):
    with ocp.CheckpointManager(workdir / "checkpoints", item_names=("state",)) as mngr:
        mngr.save(7, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
        mngr.wait_until_finished()


def heads_state(cfg):
    c = heads_config()
    return train_state(heads.build_model(cfg, c, nnx.Rngs(params=3)), heads.trainable_filters(c))


@pytest.mark.parametrize("lora", [False, True])
def test_vision_weights_are_copied_and_the_rest_kept(tmp_path, lora):
    cfg = tiny_config(lora=dict(rank=2)) if lora else tiny_config()
    vlm = build_model(cfg, seed=1)
    filters = (nnx.LoRAParam, nnx.Param) if lora else (nnx.Param, nnx.Nothing)
    save_run(tmp_path, train_state(vlm, filters))
    before = heads_state(tiny_config())
    kept = jax.tree.map(np.asarray, nnx.to_pure_dict(before.params))
    initial = jax.tree.map(np.asarray, nnx.to_pure_dict(before.frozen))
    loaded = backbone.load_backbone(before, str(tmp_path))
    jax.tree.map(np.testing.assert_array_equal, initial, nnx.to_pure_dict(before.frozen))  # not mutated
    source = nnx.to_pure_dict(nnx.state(vlm, nnx.Param))["vision"]
    target = nnx.to_pure_dict(loaded.frozen)["vision"]
    assert jax.tree.structure(source) == jax.tree.structure(target)
    jax.tree.map(np.testing.assert_array_equal, source, target)
    jax.tree.map(np.testing.assert_array_equal, kept, nnx.to_pure_dict(loaded.params))


def test_shape_mismatch_names_the_key(tmp_path):
    save_run(tmp_path, train_state(build_model(tiny_config(vision_width=48)), (nnx.Param, nnx.Nothing)))
    with pytest.raises(ValueError, match=r"init_from: vision/\S+ has shape"):
        backbone.load_backbone(heads_state(tiny_config()), str(tmp_path))


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holds no checkpoint"):
        backbone.load_backbone(heads_state(tiny_config()), str(tmp_path))
