"""Read a Hugging Face Qwen2-VL checkpoint's safetensors straight into sharded usjax parameters.

    params, report = load_params(directory, mcfg, target)

`target` is the model's parameters as a pure dict of arrays (or ShapeDtypeStructs) carrying the
shardings they must have. Every array is made with `jax.make_array_from_callback`: each device's
shard is read from the files on its own (safetensors slices: only those bytes), so no process ever
holds a whole copy of the model, as on a multi-host slice. Before anything is read, the files'
headers are checked against the model: a missing, unexpected or wrongly shaped tensor is one
`HFCheckpointError` line naming it, what was expected and what was found, and nothing is loaded.
Parameters the checkpoint does not have (a label head, MoE experts added for an ablation) keep
their values from `target` and are listed in `report.kept`.
"""
import dataclasses
import json
import os

import jax
import numpy as np
from safetensors import safe_open

from usjax.hf import tensors
from usjax.models.presets import ModelConfig

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
STORED_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}  # floating dtypes a checkpoint may store


class HFCheckpointError(ValueError):
    """The checkpoint's tensors do not fit the model its config.json describes."""


@dataclasses.dataclass
class LoadReport:
    loaded: int = 0                 # HF tensors placed
    bytes_read: int = 0             # bytes read from the files (all shards of this process)
    largest_read: int = 0           # the largest single read, in bytes
    kept: list[str] = dataclasses.field(default_factory=list)  # usjax params not in the checkpoint


def tensor_files(directory: str) -> dict[str, str]:
    """HF tensor name -> the file holding it (the index of a sharded checkpoint, or the one file)."""
    index = os.path.join(directory, INDEX)
    if os.path.isfile(index):
        with open(index) as f:
            weight_map = json.load(f).get("weight_map")
        if not isinstance(weight_map, dict):
            raise HFCheckpointError(f"{index} has no weight_map; rewrite it with save_pretrained")
        files = {name: os.path.join(directory, file) for name, file in weight_map.items()}
    elif os.path.isfile(os.path.join(directory, SINGLE)):
        path = os.path.join(directory, SINGLE)
        with safe_open(path, framework="flax") as f:
            files = {name: path for name in f.keys()}
    else:
        raise HFCheckpointError(f"{directory} has neither {SINGLE} nor {INDEX}; point "
                                f"config.model.init_from_hf at a Hugging Face checkpoint directory")
    missing = sorted({f for f in files.values() if not os.path.isfile(f)})
    if missing:
        raise HFCheckpointError(f"{missing[0]} is named by {INDEX} but does not exist "
                                f"({len(missing)} file(s) missing); copy the whole checkpoint")
    return {tensors.canonical(name): path for name, path in files.items()}


def tensor_shapes(files: dict[str, str]) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from the files' headers (no tensor data is read)."""
    shapes, by_file = {}, {}
    for name, path in files.items():
        by_file.setdefault(path, []).append(name)
    for path, names in by_file.items():
        with safe_open(path, framework="flax") as f:
            stored = {tensors.canonical(k): k for k in f.keys()}
            for name in names:
                if name not in stored:
                    raise HFCheckpointError(f"{path} does not hold {name}, which {INDEX} puts there")
                shapes[name] = tuple(f.get_slice(stored[name]).get_shape())
    return shapes


def _leaf(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, prefix + (key,))
    else:
        yield prefix


def check(cfg: ModelConfig, target: dict, shapes: dict[str, tuple[int, ...]], directory: str) -> list:
    """The rules that apply, after checking names and shapes; raises on the first mismatch."""
    rules = tensors.rules(cfg)
    expected = {}
    for rule in rules:
        shape = tensors.hf_shape(rule, tuple(_leaf(target, rule.path).shape), cfg)
        expected.update({name: shape for name in rule.hf_names()})
    missing = [n for n in expected if n not in shapes]
    if missing:
        raise HFCheckpointError(f"{directory}: tensor {missing[0]} (shape {expected[missing[0]]}) is missing "
                                f"({len(missing)} missing in all); the checkpoint does not match its config.json")
    unexpected = sorted(n for n in shapes if n not in expected)
    if unexpected:
        hint = (" (config.json says tie_word_embeddings=true; set it to false if the unembedding is "
                "separate)" if unexpected[0] == "lm_head.weight" else "")
        raise HFCheckpointError(f"{directory}: tensor {unexpected[0]} is not part of the model config.json "
                                f"describes ({len(unexpected)} unexpected in all){hint}")
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise HFCheckpointError(f"{directory}: tensor {name} has shape {shapes[name]}, expected {shape} "
                                    f"from config.json")
    return rules


class _Reader:
    """Reads (slices of) tensors, counting bytes; one open handle per file."""

    def __init__(self, files: dict[str, str], report: LoadReport):
        self.files, self.report, self.handles = files, report, {}
        self.stored = {}

    def read(self, name: str, index: tuple[slice, ...]) -> np.ndarray:
        path = self.files[name]
        if path not in self.handles:
            self.handles[path] = safe_open(path, framework="flax")
            self.stored[path] = {tensors.canonical(k): k for k in self.handles[path].keys()}
        part = self.handles[path].get_slice(self.stored[path][name])
        if part.get_dtype() not in STORED_BYTES:
            raise HFCheckpointError(f"{path}: tensor {name} is stored as {part.get_dtype()}; usjax reads "
                                    f"{sorted(STORED_BYTES)} weights")
        array = np.asarray(part[index], dtype=np.float32)
        nbytes = array.size * STORED_BYTES[part.get_dtype()]
        self.report.bytes_read += nbytes
        self.report.largest_read = max(self.report.largest_read, nbytes)
        return array


def _explicit(index: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(*s.indices(n)[:2]) for s, n in zip(index, shape))


def _shard_reader(rule, shape, dtype, reader: _Reader):
    """The callback make_array_from_callback calls with each local device's index."""
    cache = {}

    def shard(index):
        index = _explicit(index, shape)
        key = tuple((s.start, s.stop) for s in index)
        if key not in cache:
            cache[key] = _read_shard(rule, index, reader).astype(dtype)
        return cache[key]

    return shard


def _read_shard(rule, index, reader: _Reader) -> np.ndarray:
    inner = index[1:] if rule.stack else index
    hf_index, after = tensors.hf_slices(rule, inner)

    def one(name):
        return tensors.to_usjax(rule, reader.read(name, hf_index))[after]

    if not rule.stack:
        return one(rule.hf)
    return np.stack([one(rule.hf.format(i=i)) for i in range(index[0].start, index[0].stop)])


def load_params(directory: str, cfg: ModelConfig, target: dict) -> tuple[dict, LoadReport]:
    """A copy of `target` (pure dict: arrays or ShapeDtypeStructs with .sharding) whose entries
    the checkpoint covers are read from it, each onto its own sharding, cast to its dtype."""
    files = tensor_files(directory)
    rules = check(cfg, target, tensor_shapes(files), directory)
    report = LoadReport()
    reader = _Reader(files, report)
    loaded = {}
    for rule in rules:
        leaf = _leaf(target, rule.path)
        callback = _shard_reader(rule, tuple(leaf.shape), np.dtype(leaf.dtype), reader)
        loaded[rule.path] = jax.make_array_from_callback(tuple(leaf.shape), leaf.sharding, callback)
        report.loaded += max(rule.stack, 1)
    report.kept = ["/".join(map(str, p)) for p in _paths(target) if p not in loaded]

    def rebuild(tree, prefix=()):
        if isinstance(tree, dict):
            return {k: rebuild(v, prefix + (k,)) for k, v in tree.items()}
        return loaded.get(prefix, tree)

    return rebuild(target), report
