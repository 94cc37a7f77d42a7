"""Put a Hugging Face checkpoint's weights into a built usjax model, in place, on its shardings.

    report = load_into(model, directory)   # after sharding.shard_model(model, mesh, rules), if any

Only the base parameters (nnx.Param) are read; adapters and other state keep their values.
"""
from flax import nnx

from usjax.hf import load


def load_into(model: nnx.Module, directory: str) -> load.LoadReport:
    state = nnx.state(model, nnx.Param)
    params, report = load.load_params(directory, model.cfg, nnx.to_pure_dict(state))
    nnx.replace_by_pure_dict(state, params)
    nnx.update(model, state)
    return report
