"""XLA's step-time estimate for a model whose layers run in a scan.

XLA's cost analysis counts a while loop's body once, whatever its trip count (measured with the
TPU compiler: 1, 4 and 16 scanned 4096^2 matmuls all read 137 GFLOP and 0.41 ms; unrolled they
read 16x more at 16), so the step of a scanned 28-layer model reads as if it had one layer, and
its "optimal_seconds" can fall below what the chips' peak FLOP rate allows. The estimate here
compiles the step with every layer stack unrolled at depth 1, then once per stack with that
stack at depth 2, and extends linearly to the real depths: the layers of a stack have the same
shapes, so each costs what the second one adds (its sharding collectives included). A stack the
model does not use adds nothing. Gradient accumulation is a scan too: a step of k micro-batches
is costed as k steps of one micro-batch, so its optimizer update counts k times (an
over-estimate by k - 1 elementwise updates).

The one difference from the scanned program: unrolled, the first decoder layer of a LoRA run
skips the input-gradients of its frozen matmuls when nothing upstream trains (usjax.models.flops);
the scan pays them in every layer. That is under 1/depth of one layer's backward.
"""
import dataclasses
from typing import Callable

import ml_collections

from usjax.models import presets


@dataclasses.dataclass(frozen=True)
class Cost:
    seconds: float   # XLA's "optimal_seconds"
    flops: float     # XLA's "flops" (what the compiled program computes, recomputation included)

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, self.flops + other.flops)

    def __sub__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds - other.seconds, self.flops - other.flops)

    def times(self, factor: float) -> "Cost":
        return Cost(self.seconds * factor, self.flops * factor)


@dataclasses.dataclass(frozen=True)
class Stack:
    """One scanned layer stack: its depth in a (config, model config) and the pair at another depth."""
    name: str
    depth: Callable[[ml_collections.ConfigDict, presets.ModelConfig], int]
    at: Callable[[ml_collections.ConfigDict, presets.ModelConfig, int],
                 tuple[ml_collections.ConfigDict, presets.ModelConfig]]


def _decoder_at(config, mcfg, depth):
    return config, dataclasses.replace(mcfg, layers=depth)


def _vision_at(config, mcfg, depth):
    return config, dataclasses.replace(mcfg, vision=dataclasses.replace(mcfg.vision, depth=depth))


def _text_tower_at(config, mcfg, depth):
    if config.get("arm") != "contrastive":
        return config, mcfg
    config = config.copy_and_resolve_references()
    config.contrastive.text_layers = depth
    return config, mcfg


def _text_tower_depth(config, mcfg):
    return int(config.contrastive.text_layers) if config.get("arm") == "contrastive" else 1


STACKS = (
    Stack("decoder layers", lambda config, mcfg: mcfg.layers, _decoder_at),
    Stack("vision blocks", lambda config, mcfg: mcfg.vision.depth, _vision_at),
    Stack("contrastive text tower", _text_tower_depth, _text_tower_at),
)


def extrapolated(config: ml_collections.ConfigDict, mcfg: presets.ModelConfig,
                 cost_of: Callable[[ml_collections.ConfigDict, presets.ModelConfig], Cost]) -> Cost:
    """The step's cost at its real depths; cost_of compiles one (config, model config) and reads
    XLA's cost analysis. Compiles 1 + (number of stacks deeper than one layer) programs; a model
    whose stacks are all one layer deep compiles just its own step (at one micro-batch)."""
    depths = [stack.depth(config, mcfg) for stack in STACKS]
    micro_batches = int(config.train.micro_batches)
    if micro_batches > 1:
        config = config.copy_and_resolve_references()
        config.data.batch_size //= micro_batches
        config.train.micro_batches = 1
    deep = [(stack, depth) for stack, depth in zip(STACKS, depths) if depth > 1]
    # a loop of one trip is counted once, which is exact: only a model with a deeper stack needs
    # the unrolled programs (one whose stacks are all one layer deep is costed from its own step)
    shallow = (config, dataclasses.replace(mcfg, scan_layers=mcfg.scan_layers and not deep))
    for stack in STACKS:
        shallow = stack.at(*shallow, 1)
    base = cost_of(*shallow)
    total = base
    for stack, depth in deep:
        per_layer = cost_of(*stack.at(*shallow, 2)) - base
        total = total + per_layer.times(depth - 1)
    return total.times(micro_batches)
