"""Cloud TPU slice types: what a `--tpu_type` name means in chips, devices, memory and topology.

Figures from /work/shared/TPU-FACTS.md (Cloud TPU docs, JAX's tpu_info table, MaxText's AOT map):
- v4-N and v5p-N count TensorCores (2 per chip, one JAX device per chip: megacore);
  v5litepod-N (alias v5e-N) and v6e-N count chips (one device per chip).
- HBM per device is JAX's per-chip figure (v4 34.4e9 B, v5e 17.2e9, v5p 103e9, v6e 34.4e9);
  peak bf16 FLOP/s per device is the Cloud TPU datasheet's per-chip figure (MaxText's MFU table).
- libtpu names the v5p topology `v5:AxBxC`; v4/v5p slices of 64+ chips wrap around (torus).
"""
import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Generation:
    name: str               # as in the accelerator type: v4, v5p, v5litepod, v6e
    libtpu_prefix: str      # topology name prefix for get_topology_desc
    cores_per_chip_in_name: int
    hbm_bytes_per_device: float
    peak_flops_per_device: float
    runtime_version: str    # default --runtime-version for queued resources
    chip_config_name: str
    shapes: dict            # chips -> topology shape


_CUBE = {4: "2x2x1", 8: "2x2x2", 16: "2x2x4", 32: "2x4x4", 64: "4x4x4", 128: "4x4x8",
         256: "4x8x8", 512: "8x8x8"}
_PLANE = {1: "1x1", 4: "2x2", 8: "2x4", 16: "4x4", 32: "4x8", 64: "8x8", 128: "8x16",
          256: "16x16"}

GENERATIONS = {
    "v4": Generation("v4", "v4", 2, 34.4e9, 275e12, "tpu-ubuntu2204-base", "megacore", _CUBE),
    "v5p": Generation("v5p", "v5", 2, 103e9, 459e12, "v2-alpha-tpuv5", "megacore", _CUBE),
    "v5litepod": Generation("v5litepod", "v5e", 1, 17.2e9, 197e12, "v2-alpha-tpuv5-lite",
                            "default", _PLANE),
    "v6e": Generation("v6e", "v6e", 1, 34.4e9, 918e12, "v2-alpha-tpuv6e", "default", _PLANE),
}
_ALIASES = {"v5e": "v5litepod"}
_TYPE = re.compile(r"^(v4|v5p|v5litepod|v5e|v6e)-(\d+)$")


class TpuTypeError(ValueError):
    """Unknown TPU type; the message is one line listing what is known."""


@dataclasses.dataclass(frozen=True)
class TpuType:
    name: str         # canonical accelerator type for gcloud, e.g. v5p-64, v5litepod-16
    generation: Generation
    chips: int

    @property
    def devices(self) -> int:
        return self.chips  # one JAX device per chip on all generations listed here

    @property
    def topology_name(self) -> str:
        return f"{self.generation.libtpu_prefix}:{self.generation.shapes[self.chips]}"

    def topology_kwargs(self) -> dict:
        """Arguments for jax.experimental.topologies.get_topology_desc (MaxText's AOT map)."""
        kwargs = dict(topology_name=self.topology_name, platform="tpu",
                      chip_config_name=self.generation.chip_config_name)
        kwargs["chips_per_host_bounds"] = (2, 2, 1) if self.chips > 1 else (1, 1, 1)
        wrap = _wrap(self.generation, self.chips)
        if wrap:
            kwargs["wrap"] = wrap
        return kwargs


def parse(name: str) -> TpuType:
    match = _TYPE.match(name or "")
    if not match:
        raise TpuTypeError(f"--tpu_type={name!r} is not a known TPU type; "
                           f"use one of {known_names()}")
    gen = GENERATIONS[_ALIASES.get(match.group(1), match.group(1))]
    count = int(match.group(2))
    chips, rest = divmod(count, gen.cores_per_chip_in_name)
    if rest or chips not in gen.shapes:
        raise TpuTypeError(f"--tpu_type={name!r}: {gen.name} comes in "
                           f"{', '.join(_type_name(gen, c) for c in gen.shapes)}")
    return TpuType(f"{gen.name}-{count}", gen, chips)


def same_generation_sizes(tpu: TpuType) -> list[TpuType]:
    """Every slice of this generation, smallest first (candidates for --pick_slice)."""
    gen = tpu.generation
    return [TpuType(_type_name(gen, c), gen, c) for c in sorted(gen.shapes)]


def _type_name(gen: Generation, chips: int) -> str:
    return f"{gen.name}-{chips * gen.cores_per_chip_in_name}"


def known_names() -> str:
    return ", ".join(f"{g.name}-N" for g in GENERATIONS.values()) + " (e.g. v5p-64, v5litepod-16)"


def _wrap(gen: Generation, chips: int):
    if gen.shapes is _CUBE and chips >= 64:
        return (True, True, True)
    if gen.shapes is _PLANE and chips == 128:
        return (False, True, False)
    if gen.shapes is _PLANE and chips == 256:
        return (True, True, False)
    return None
