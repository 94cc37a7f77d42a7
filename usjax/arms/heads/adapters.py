"""Bottleneck adapters in the frozen vision encoder (NextGen-UIA; Houlsby-style, pre-normed).

Each adapter sits on the residual stream right after a block's attention and/or MLP residual add
(`VisionBlock.attn_adapter` / `mlp_adapter`):

    x <- x + up(GELU(down(LayerNorm(x))))        down: W -> width, up: width -> W

`up` starts at zero, so a freshly attached adapter is the identity and the encoder's features are
exactly the frozen backbone's until training moves it. The LayerNorm in front (as in Mona) keeps
the bottleneck's input scale independent of how large the residual stream has grown. Mona's
multi-scale depth-wise convolutions and scaled-LayerNorm gates are not implemented: this is the
plain bottleneck variant. All adapter weights are `AdapterParam`, stacked over the encoder's
layers like the block weights, so the scanned layer loop slices them per layer.
"""
import jax
from flax import nnx

from usjax.arms.heads.params import AdapterParam, LayerNorm, Linear
from usjax.models.vision import VisionEncoder

SITES = {"both": ("attention", "mlp"), "attention": ("attention",), "mlp": ("mlp",), "none": ()}


class BottleneckAdapter(nnx.Module):
    def __init__(self, features: int, width: int, stack: tuple[int, ...], rngs: nnx.Rngs):
        self.norm = LayerNorm(AdapterParam, features, stack=stack)
        self.down = Linear(AdapterParam, features, width, ("vit_embed", None), stack=stack, rngs=rngs)
        self.up = Linear(AdapterParam, width, features, (None, "vit_embed"), stack=stack, rngs=rngs,
                         zero_init=True)

    def __call__(self, x_NPW):
        return x_NPW + self.up(jax.nn.gelu(self.down(self.norm(x_NPW)), approximate=False))


def sites(name: str) -> tuple[str, ...]:
    """config.heads.adapter_sites -> the block positions that get an adapter."""
    if name not in SITES:
        raise ValueError(f"config.heads.adapter_sites={name!r} is unknown; use one of {sorted(SITES)}")
    return SITES[name]


def attach(encoder: VisionEncoder, width: int, where: tuple[str, ...], rngs: nnx.Rngs) -> None:
    """Give every block of the encoder an adapter at each site in `where` (in place)."""
    if where and width <= 0:
        raise ValueError(f"config.heads.adapter_width={width} must be > 0 when adapters are attached "
                         f"(config.heads.adapter_sites='none' trains the heads alone)")
    features, depth = encoder.cfg.vision.width, encoder.cfg.vision.depth
    if "attention" in where:
        encoder.blocks.attn_adapter = BottleneckAdapter(features, width, (depth,), rngs)
    if "mlp" in where:
        encoder.blocks.mlp_adapter = BottleneckAdapter(features, width, (depth,), rngs)
