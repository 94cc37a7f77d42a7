"""Training FLOPs per exam of the heads arm (matmuls only, 2 per multiply-add; MaxText convention).

"3 x forward" holds only for fully trained networks; here the backbone is frozen, so the count
follows what JAX differentiates (as usjax.models.flops does for LoRA). A matmul costs its forward
f, plus f for each operand that carries a tangent: a trained weight, or an activation downstream
of one. So:
- the patch embedding and, without adapters, the whole encoder run forward only (1x);
- from the first adapter on, the frozen matmuls pay forward + input-gradient (2x; attention's
  two activation-activation products 3x), because the adapters' gradients flow back through them;
- each adapter's up-projection costs 3x, its down-projection 2x plus the input-gradient when its
  input already carries a tangent;
- the heads cost 3x (their input carries the tangent of the trainable feature LayerNorm).
In a scanned layer stack (model.scan_layers) every layer behaves like the others (a scan carry
carries a tangent in all iterations or in none), so the first block pays like the rest; unrolled,
its matmuls before its first adapter run forward only.
"""
from usjax.arms.heads import adapters
from usjax.arms.heads.tasks import num_classes
from usjax.models.presets import ModelConfig


def _adapter(tokens: int, features: int, width: int, tangent_in: bool) -> float:
    down = 2 * tokens * features * width * (2 + tangent_in)
    up = 2 * tokens * width * features * 3
    return down + up


def _block(cfg: ModelConfig, tokens: int, where: tuple[str, ...], width: int, tangent: bool
           ) -> tuple[float, bool]:
    """(FLOPs of one encoder block for one view, whether its output carries a tangent)."""
    w, hidden = cfg.vision.width, cfg.vision.mlp_ratio * cfg.vision.width
    flops = 2 * tokens * w * 3 * w * (1 + tangent)          # qkv
    flops += 2 * (2 * tokens * tokens * w) * (1 + 2 * tangent)  # scores and values
    flops += 2 * tokens * w * w * (1 + tangent)             # output projection
    if "attention" in where:
        flops += _adapter(tokens, w, width, tangent)
        tangent = True
    flops += 2 * (2 * tokens * w * hidden) * (1 + tangent)  # fc1, fc2
    if "mlp" in where:
        flops += _adapter(tokens, w, width, tangent)
        tangent = True
    return flops, tangent


def train_flops_per_example(cfg: ModelConfig, adapter_width: int, adapter_sites: str, segment: bool,
                            num_views: int, image_size: int) -> float:
    v = cfg.vision
    where = adapters.sites(adapter_sites)
    side = image_size // v.patch
    tokens = side * side
    per_view = 2 * tokens * v.patch * v.patch * 3 * v.width  # patch embedding (pixels are constants)
    tangent = bool(where) and cfg.scan_layers
    for _ in range(v.depth):
        flops, tangent = _block(cfg, tokens, where, adapter_width, tangent)
        per_view += flops
    if segment:
        per_view += 3 * 2 * tokens * v.width * v.patch * v.patch
    classify = 3 * 2 * v.width * sum(num_classes())
    return num_views * per_view + classify
