"""The contrastive arm's analytic training FLOPs agree with XLA's cost analysis of the compiled
forward + backward of loss_sums (tests/models/test_model_flops.py explains the method: unrolled
layer loops, because XLA counts a loop body once; a tolerance, because XLA also counts the
elementwise work the MaxText convention leaves out)."""
import jax
import jax.numpy as jnp
from flax import nnx

from experiments import base
from usjax.arms import contrastive
from usjax.models import presets

B, VIEWS, SIDE, TEXT = 2, 2, 56, 16


def test_train_flops_within_10_percent_of_xla():
    config = base.get_config()
    config.data.tasks = {"report": 1.0}
    config.contrastive.embed_dim = 16
    config.contrastive.graph_hidden = 16
    config.data.update(batch_size=B, max_images=VIEWS, image_size=SIDE, text_len=TEXT)
    mcfg = presets.build("s0", vocab_size=64, scan_layers=False)
    # abstract parameters suffice for lowering (and skip initialising them)
    model = nnx.eval_shape(lambda: contrastive.build_model(mcfg, config, nnx.Rngs(params=0, dropout=1)))
    graphdef, params = nnx.split(model, nnx.Param)
    batch = dict(images=jax.ShapeDtypeStruct((B, VIEWS, SIDE, SIDE, 3), jnp.uint8),
                 image_mask=jax.ShapeDtypeStruct((B, VIEWS), bool),
                 tokens=jax.ShapeDtypeStruct((B, TEXT), jnp.int32),
                 text_mask=jax.ShapeDtypeStruct((B, TEXT), bool),
                 labels=jax.ShapeDtypeStruct((B, 9), jnp.int32))

    def loss(params, batch):
        return contrastive.loss_sums(nnx.merge(graphdef, params), batch, config)[0]

    cost = jax.jit(jax.grad(loss)).lower(params, batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    measured = cost["flops"] / B
    analytic = contrastive.flops_per_example(mcfg, config)
    print(f"analytic {analytic:.4g} XLA {measured:.4g} ratio {analytic / measured:.3f}")
    assert abs(analytic - measured) / measured < 0.10, (analytic, measured)
