"""A usjax model out to the Hugging Face tools: a merged checkpoint and a PEFT LoRA adapter.

    export_merged(model, "out/merged", source_dir)   # Qwen2VLForConditionalGeneration.from_pretrained
    export_adapter(model, "out/adapter", base_dir)   # PeftModel.from_pretrained(base, "out/adapter")
    import_adapter(model, "out/adapter")             # and back into the model's own adapters

Merged checkpoint: every base parameter, with each adapter folded into its kernel
(kernel + alpha/rank * A @ B, the model itself is not changed), under the tensor names
transformers' save_pretrained writes (usjax.hf.tensors) in torch's layouts, as float32 (usjax's
parameters are float32, so re-importing gives them back bit for bit; config.json's dtype is set to
float32 accordingly, whatever the source stored). The merge is computed on the host in float64,
one layer at a time, with a fixed summation order and one rounding to float32: the bytes are the
same on every machine (an XLA matmul's rounding depends on the CPU). Files of at most
`max_shard_bytes` (one tensor larger than that gets a file of its own) named and indexed as
save_pretrained names them (model.safetensors, or model-0000k-of-0000n.safetensors and
model.safetensors.index.json). The source checkpoint's config, generation config, tokenizer,
processor configs and chat templates are copied beside them (its weights are not). A model with
parameters that have no Hugging Face tensor (MoE experts, a label head) is refused: the checkpoint
would compute something else.

Adapter directory: what PEFT 0.21 writes for LoraConfig(r, lora_alpha, lora_dropout,
target_modules=<the adapted modules>): adapter_config.json with PEFT's fields and
adapter_model.safetensors with, for every adapted module and layer,
base_model.model.<transformers 5 module name>.lora_A.weight [r, in] (= A.T) and .lora_B.weight
[out, r] (= B.T). target_modules lists the full module names (e.g.
model.language_model.layers.0.self_attn.q_proj), which PEFT matches exactly: it adapts these
modules and no others. Only adapters on Linear layers of the checkpoint can be exported.

Both exports are written into a temporary sibling directory (.<name>.partial-*) that is renamed to
`directory` once complete, so an interrupted export leaves no `directory` (an exception removes
the temporary one as well); an existing `directory` is refused. The same model gives the same
bytes (sorted keys, no timestamps). Local filesystems only (a rename is not atomic on GCS).
Arrays come to the host one parameter at a time; an array that is not fully addressable from this
process (multi-host) is gathered with process_allgather, which every process must call: call the
exports on every process; only process 0 writes, and all processes wait until it has.
"""
import contextlib
import json
import os
import shutil
import uuid

import jax
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from safetensors import safe_open
from safetensors.numpy import save_file

from usjax.hf import load, tensors
from usjax.models import lora

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."  # PeftModel(LoraModel(model)): the keys PEFT saves start so
PEFT_VERSION = "0.21.2"            # the PEFT whose format is written (and verified: check_exports.py)
METADATA = {"format": "pt"}        # what transformers and PEFT write into a safetensors header
DEFAULT_SHARD_BYTES = 5 * 10 ** 9  # save_pretrained's default max_shard_size ("5GB")
# the source checkpoint's files copied beside the merged weights (besides any chat_template*)
SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "tokenizer.model",
              "preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json")


def host(array) -> np.ndarray:
    """One array, whole, on this host (gathered from the other processes if need be)."""
    if not getattr(array, "is_fully_addressable", True):
        array = multihost_utils.process_allgather(array, tiled=True)
    return np.asarray(jax.device_get(array))


def _writes() -> bool:
    return jax.process_index() == 0


def _wait_for_writer(name: str) -> None:
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"usjax.hf.export {name}")


@contextlib.contextmanager
def _new_directory(directory: str):
    """Yields a temporary sibling directory that becomes `directory` only if the body completes."""
    directory = os.path.abspath(directory)
    if os.path.lexists(directory):
        raise FileExistsError(f"{directory} exists; export into a new directory (or delete it first)")
    parent, base = os.path.split(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{base}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(tmp)  # the umask's permissions, as the renamed directory should have
    try:
        yield tmp
        os.rename(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save(arrays: dict[str, np.ndarray], path: str) -> None:
    save_file(arrays, path, metadata=METADATA)
    # safetensors creates its files owner-only (0600); give them the directory's (umask) permissions
    os.chmod(path, os.stat(os.path.dirname(path)).st_mode & 0o666)


def _write_json(path: str, value) -> None:
    with open(path, "w") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True) + "\n")  # as transformers and PEFT write


def _node(model, path):
    for key in path:
        model = getattr(model, key)
    return model


# --- merged checkpoint ---

def merged_layer(kernel: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """float32 kernel [in, out] + scale * a [in, r] @ b [r, out]: float64 products (exact for float32
    factors) summed over r in order, one rounding to float32; the same bits on every machine."""
    delta = np.zeros(kernel.shape, np.float64)
    for k in range(a.shape[-1]):
        delta += np.multiply.outer(a[:, k].astype(np.float64), b[k].astype(np.float64))
    return (kernel.astype(np.float64) + scale * delta).astype(np.float32)


def _merged_layers(model, rule) -> list[tuple[str, np.ndarray]]:
    """(HF name, float32 array in HF layout) of each layer of one rule, adapters folded in."""
    node = _node(model, rule.path[:-1])
    value = host(getattr(node, rule.path[-1])[...]).astype(np.float32)
    adapter = getattr(node, "lora", None) if rule.path[-1] == "kernel" else None
    if adapter is not None:
        a, b = host(adapter.a[...]).astype(np.float32), host(adapter.b[...]).astype(np.float32)
    out = []
    for i, name in _layers(rule):
        layer = value if i is None else value[i]
        if adapter is not None:
            layer = merged_layer(layer, a if i is None else a[i], b if i is None else b[i], adapter.scale)
        out.append((name, tensors.to_hf(rule, layer, model.cfg)))
    return out


def merged_params(model: nnx.Module) -> dict[tuple[str, ...], np.ndarray]:
    """usjax parameter path -> its float32 value as export_merged writes it (adapters folded in),
    in usjax's layout: what importing the merged checkpoint gives back. Holds the whole model on
    the host: for tests and small models."""
    out = {}
    for rule in tensors.rules(model.cfg):
        layers = [tensors.to_usjax(rule, array) for _, array in _merged_layers(model, rule)]
        out[rule.path] = np.stack(layers) if rule.stack else layers[0]
    return out


def _check_exportable(model) -> None:
    """Every base parameter has its HF tensor, and the adapters are where the merge folds them."""
    covered = {rule.path for rule in tensors.rules(model.cfg)}
    base = nnx.to_pure_dict(nnx.state(model, nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam))))
    extra = sorted("/".join(map(str, p)) for p in load._paths(base) if p not in covered)
    if extra:
        raise ValueError(f"parameter {extra[0]} has no Hugging Face Qwen2-VL tensor ({len(extra)} in all); a "
                         f"merged checkpoint of this model would compute something else (export a model "
                         f"without MoE experts or extra heads)")
    kernels = {"/".join(rule.path[:-1]) for rule in tensors.rules(model.cfg) if rule.path[-1] == "kernel"}
    for path, dense in lora.dense_paths(model).items():
        if dense.lora is not None and path not in kernels:
            raise ValueError(f"the adapter on {path} has no Hugging Face kernel to merge into")


def _check_source(model, source_dir: str) -> None:
    """The source checkpoint (if it has weights) holds exactly the tensors the export writes."""
    if not os.path.isfile(os.path.join(source_dir, "config.json")):
        raise FileNotFoundError(f"{source_dir}/config.json is missing; source_dir is the Hugging Face checkpoint "
                                f"the model was imported from (its config and tokenizer are copied)")
    try:
        files = load.tensor_files(source_dir)
    except load.HFCheckpointError:
        return  # a config-only directory (e.g. the published shapes): nothing to compare
    target = nnx.to_pure_dict(nnx.state(model, nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam))))
    try:
        load.check(model.cfg, target, load.tensor_shapes(files), source_dir)
    except load.HFCheckpointError as e:
        raise ValueError(f"the model does not match source_dir, whose config.json would be copied: {e}") from None


def _shard_plan(model, max_shard_bytes: int) -> list[int]:
    """How many HF tensors (in writing order) go into each file: a new file starts when the next
    tensor would take the current one past max_shard_bytes (as save_pretrained splits)."""
    counts, size = [0], 0
    for rule in tensors.rules(model.cfg):
        shape = tensors.hf_shape(rule, tuple(_node(model, rule.path).shape), model.cfg)
        nbytes = int(np.prod(shape)) * 4
        for _ in rule.hf_names():
            if counts[-1] and size + nbytes > max_shard_bytes:
                counts.append(0)
                size = 0
            counts[-1] += 1
            size += nbytes
    return counts


def _copy_side_files(source_dir: str, target: str) -> None:
    names = sorted(n for n in os.listdir(source_dir) if os.path.isfile(os.path.join(source_dir, n))
                   and (n in SIDE_FILES or n.startswith("chat_template")))
    for name in names:
        shutil.copyfile(os.path.join(source_dir, name), os.path.join(target, name))
    if os.path.isdir(os.path.join(source_dir, "additional_chat_templates")):
        shutil.copytree(os.path.join(source_dir, "additional_chat_templates"),
                        os.path.join(target, "additional_chat_templates"))
    path = os.path.join(target, "config.json")
    with open(path) as f:
        config = json.load(f)
    sections = [config] + [config[k] for k in ("text_config", "vision_config") if isinstance(config.get(k), dict)]
    for section in sections:
        for key in ("dtype", "torch_dtype"):
            if key in section:
                section[key] = "float32"  # the weights written are float32, whatever the source stored
    if "dtype" not in config and "torch_dtype" not in config:
        config["dtype"] = "float32"
    _write_json(path, config)


def export_merged(model: nnx.Module, directory: str, source_dir: str,
                  max_shard_bytes: int = DEFAULT_SHARD_BYTES) -> list[str]:
    """Writes the merged checkpoint into `directory` (which must not exist); returns its
    safetensors file names. source_dir: the HF checkpoint the model was imported from."""
    _check_exportable(model)
    _check_source(model, source_dir)
    counts = _shard_plan(model, max_shard_bytes)
    names = ([load.SINGLE] if len(counts) == 1 else
             [f"model-{k + 1:05d}-of-{len(counts):05d}.safetensors" for k in range(len(counts))])
    layers = (kv for rule in tensors.rules(model.cfg) for kv in _merged_layers(model, rule))
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(_new_directory(directory)) if _writes() else None
        weight_map, total, parameters = {}, 0, 0
        for name, count in zip(names, counts):
            shard = dict(next(layers) for _ in range(count))  # one file's tensors on the host at a time
            if tmp is not None:
                _save(shard, os.path.join(tmp, name))
            weight_map.update({key: name for key in shard})
            total += sum(a.nbytes for a in shard.values())
            parameters += sum(a.size for a in shard.values())
        if tmp is not None:
            if len(names) > 1:
                _write_json(os.path.join(tmp, load.INDEX),
                            {"metadata": {"total_parameters": parameters, "total_size": total},
                             "weight_map": weight_map})
            _copy_side_files(source_dir, tmp)
    _wait_for_writer(directory)
    return names


# --- PEFT adapter ---

def _layers(rule) -> list[tuple[int | None, str]]:
    """(layer or None, HF tensor name) of each tensor of a rule."""
    return [(i, rule.hf.format(i=i)) for i in range(rule.stack)] if rule.stack else [(None, rule.hf)]


def peft_key(hf_weight_name: str, factor: str) -> str:
    """The PEFT key of factor "lora_A"/"lora_B" of the module that has HF tensor `hf_weight_name`."""
    return f"{PEFT_PREFIX}{tensors.module_name(hf_weight_name)}.{factor}.weight"


def _adapted(model) -> list[tuple[str, object, tensors.Rule]]:
    """(usjax path, Dense, its kernel's rule) of every adapter; refuses adapters PEFT cannot hold."""
    linear = {"/".join(rule.path[:-1]): rule for rule in tensors.rules(model.cfg)
              if rule.kind == "linear" and rule.path[-1] == "kernel"}
    adapted, cfg = [], model.cfg.lora
    for path, dense in sorted(lora.dense_paths(model).items()):
        if dense.lora is None:
            continue
        if path not in linear:
            raise ValueError(f"the adapter on {path} has no Hugging Face Linear module to go to; export only "
                             f"adapters on the checkpoint's linear layers (config.model.lora.targets), or "
                             f"export the merged checkpoint")
        if dense.lora.a.shape[-1] != cfg.rank or dense.lora.scale != cfg.alpha / cfg.rank:
            raise ValueError(f"the adapter on {path} has rank {dense.lora.a.shape[-1]} and scale "
                             f"{dense.lora.scale}, not the model's lora rank {cfg.rank} and alpha {cfg.alpha}")
        adapted.append((path, dense, linear[path]))
    if not adapted:
        raise ValueError("the model has no LoRA adapters to export; build it with config.model.lora.rank > 0 "
                         "(train.mode=lora), or export the merged checkpoint with export_merged")
    return adapted


def _number(x: float):
    return int(x) if float(x).is_integer() else float(x)


def adapter_config(model: nnx.Module, modules: list[str], base_dir: str) -> dict:
    """adapter_config.json as PEFT 0.21.2's save_pretrained writes it for
    LoraConfig(r, lora_alpha, lora_dropout, target_modules=modules) on Qwen2VLForConditionalGeneration."""
    cfg = model.cfg.lora
    return {
        "alora_invocation_tokens": None, "alpha_pattern": {}, "arrow_config": None,
        "auto_mapping": {"base_model_class": "Qwen2VLForConditionalGeneration",
                         "parent_library": "transformers.models.qwen2_vl.modeling_qwen2_vl"},
        "base_model_name_or_path": base_dir, "bias": "none", "corda_config": None,
        "ensure_weight_tying": False, "eva_config": None, "exclude_modules": None, "fan_in_fan_out": False,
        "inference_mode": True, "init_lora_weights": True, "kasa_config": None, "layer_replication": None,
        "layers_pattern": None, "layers_to_transform": None, "loftq_config": {},
        "lora_alpha": _number(cfg.alpha), "lora_bias": False, "lora_dropout": float(cfg.dropout),
        "lora_ga_config": None, "megatron_config": None, "megatron_core": "megatron.core",
        "modules_to_save": None, "monteclora_config": None, "peft_type": "LORA", "peft_version": PEFT_VERSION,
        "qalora_group_size": 16, "r": cfg.rank, "rank_pattern": {}, "revision": None,
        "target_modules": sorted(modules), "target_parameters": None, "task_type": None,
        "trainable_token_indices": None, "use_bdlora": None, "use_dora": False, "use_qalora": False,
        "use_rslora": False, "velora_config": None,
    }


def export_adapter(model: nnx.Module, directory: str, base_dir: str) -> list[str]:
    """Writes the PEFT adapter directory `directory` (which must not exist); returns the adapted HF
    modules. base_dir: recorded as base_model_name_or_path (a hub id or a path; it is not read)."""
    arrays, modules = {}, []
    for _, dense, rule in _adapted(model):
        a, b = host(dense.lora.a[...]).astype(np.float32), host(dense.lora.b[...]).astype(np.float32)
        for i, name in _layers(rule):
            arrays[peft_key(name, "lora_A")] = np.ascontiguousarray((a if i is None else a[i]).T)
            arrays[peft_key(name, "lora_B")] = np.ascontiguousarray((b if i is None else b[i]).T)
            modules.append(tensors.module_name(name))
    if _writes():
        with _new_directory(directory) as tmp:
            _save(arrays, os.path.join(tmp, ADAPTER_WEIGHTS))
            _write_json(os.path.join(tmp, ADAPTER_CONFIG), adapter_config(model, modules, base_dir))
    _wait_for_writer(directory)
    return sorted(modules)


# PEFT settings under which A and B mean something else than usjax's adapter: (field, usjax's value)
_SAME_MEANING = (("peft_type", "LORA"), ("use_rslora", False), ("use_dora", False), ("fan_in_fan_out", False),
                 ("bias", "none"), ("lora_bias", False), ("rank_pattern", {}), ("alpha_pattern", {}))


def import_adapter(model: nnx.Module, directory: str) -> None:
    """Reads a PEFT LoRA adapter directory into the model's own adapters, which must have its rank,
    alpha and modules (the modules are those the file holds factors for). Nothing is changed
    unless everything fits."""
    path = os.path.join(directory, ADAPTER_CONFIG)
    with open(path) as f:
        config = json.load(f)
    adapted, cfg = _adapted(model), model.cfg.lora
    for key, ours in (("r", cfg.rank), ("lora_alpha", cfg.alpha)):
        if config.get(key) != ours:
            raise ValueError(f"{path}: {key} = {config.get(key)!r} but the model's adapters have {ours}; build the "
                             f"model with config.model.lora set as the adapter was trained")
    for key, ours in _SAME_MEANING:
        value = config.get(key)  # absent or null: PEFT's default, which is usjax's value (but peft_type)
        if (value is not None or key == "peft_type") and value != ours:
            raise ValueError(f"{path}: {key} = {value!r}; usjax's adapters implement {key} = {ours!r} only")
    weights = os.path.join(directory, ADAPTER_WEIGHTS)
    expected = {}  # PEFT key -> (variable, layer or None, shape)
    for _, dense, rule in adapted:
        for i, name in _layers(rule):
            expected[peft_key(name, "lora_A")] = (dense.lora.a, i, (cfg.rank, dense.in_features))
            expected[peft_key(name, "lora_B")] = (dense.lora.b, i, (dense.out_features, cfg.rank))
    with safe_open(weights, framework="numpy") as f:
        stored = set(f.keys())
        missing, unexpected = sorted(set(expected) - stored), sorted(stored - set(expected))
        if missing:
            raise ValueError(f"{weights}: {missing[0]} is missing ({len(missing)} in all); the model's adapters "
                             f"(config.model.lora.targets) cover modules the adapter does not")
        if unexpected:
            raise ValueError(f"{weights}: {unexpected[0]} has no adapter in the model ({len(unexpected)} in all); "
                             f"set config.model.lora.targets to the modules the adapter was trained on")
        layers = {}
        for key, (variable, i, shape) in expected.items():
            value = f.get_tensor(key)
            if value.shape != shape:
                raise ValueError(f"{weights}: {key} has shape {value.shape}, the model's adapter needs {shape}")
            layers.setdefault(id(variable), (variable, {}))[1][i] = value.T.astype(np.float32)
    for variable, by_layer in layers.values():
        value = np.stack([by_layer[i] for i in sorted(by_layer)]) if None not in by_layer else by_layer[None]
        value = value.astype(variable.dtype)
        sharding = variable.get_value().sharding
        variable[...] = jax.make_array_from_callback(value.shape, sharding, lambda index, v=value: v[index])
