"""results.json: the one file a finished run leaves for analysis/ and launch/ (keys are a contract).

Written last and atomically (temporary name in the same directory, then rename), so a file that
exists is complete: launch/ treats its presence as "this run is done".
"""
import hashlib
import json

from etils import epath
import ml_collections

from usjax.atomic import atomic_write

RESULT_KEYS = ("n_params_non_embedding", "n_params_total", "n_params_trainable", "train_exams",
               "tokens_seen", "flops", "final_val_loss", "best_val_loss", "metrics",
               "wall_time_s", "steps", "config_hash", "config", "tags")
FILENAME = "results.json"


def config_hash(config: ml_collections.ConfigDict) -> str:
    """A stable digest of every knob (key order does not matter)."""
    canonical = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def write(workdir: str, results: dict) -> epath.Path:
    missing = [k for k in RESULT_KEYS if k not in results]
    extra = [k for k in results if k not in RESULT_KEYS]
    if missing or extra:
        raise ValueError(f"results.json keys must be exactly {RESULT_KEYS}; "
                         f"missing {missing}, unexpected {extra}")
    path = epath.Path(workdir) / FILENAME
    atomic_write(path, json.dumps({k: results[k] for k in RESULT_KEYS}, indent=2,
                                  sort_keys=False, default=_to_builtin).encode())
    return path


SAMPLES_FILENAME = "generated_reports.json"


def write_samples(workdir: str, samples: list[dict]) -> epath.Path:
    """The evaluation's generated reports beside their references, for reading, not for analysis."""
    path = epath.Path(workdir) / SAMPLES_FILENAME
    atomic_write(path, json.dumps(samples, indent=1).encode())
    return path


def read(workdir: str) -> dict:
    return json.loads((epath.Path(workdir) / FILENAME).read_text())


def _to_builtin(value):
    """numpy / jax scalars and arrays become Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"results.json cannot store a {type(value).__name__}: {value!r}")
