"""A sweep file and the runs it expands to.

A sweep file is an ordinary experiment file (`experiments/X.py`) with two functions:

    def get_config(arg=None):          # the base config of every run (usually experiments/base.py's)
        ...
    def get_sweep():                   # the grid
        return dict(
            product={"model.preset": ["s1", "s2"],          # config key -> values; every combination
                     "data.train_exams": [100, 300],
                     "seed": [0, 1]},
            arms={"baseline": {},                           # named ablation arms, each crossed with
                  "moe": {"model.moe.experts": 4}},         #   the product: arm name -> overrides
            names={"data.train_exams": "d"},                # optional: short label per key in run names
        )

- `product` maps a dotted config key to its list of values (a list of such dicts is the union of
  their products). `arms` is optional (default: one arm "baseline" with no overrides).
- A run's name joins one label per product key, in the order written, then the arm:
  string values as they are, other values as `<label><value>` where label is `names[key]` or the
  key's last component: `s1-d100-seed0-baseline`. Its workdir is `<root>/<sweep>/<name>/`, where
  `<sweep>` is the sweep file's stem.
- A run's tags (passed to the trainer, stored in results.json) are the product values under the
  key's last component plus `arm`: {"preset": "s1", "train_exams": 100, "seed": 0, "arm": "baseline"}.
- `get_sweep()` may instead return a list of such dicts: the runs are the union of their runs
  (each dict with its own arms, e.g. per-data-size overrides); names must stay unique across them.
- `--sweep=experiments/X.py:arg` passes `arg` to `get_config`, as `--config=` does for the trainer,
  and to `get_sweep(arg)` when get_sweep takes an argument (a grid that depends on it).
- A string override value `run:<name>` names another run of the same sweep (e.g.
  `"train.init_from": "run:d77-seed0-baseline"`): the backends pass that run's workdir instead,
  run it first and never at the same time as the runs that depend on it. Runs are listed with
  every run after the runs it depends on.
- Optional `sweep_name(arg)` in the sweep file names the sweep's folder for that `arg` (default:
  the file's stem), so that variants with other grids or seeds do not share `<root>/<sweep>/`:
  a run that has results there is never run again, and the report fits every run in it.
- Optional `prepare(config)` in the sweep file runs once, locally, before the local backend starts
  the runs (e.g. it builds the corpus so that parallel runs do not race to build it).
- Tags reach the trainer's locked config only if declared: `tags.declare(config, get_sweep())`
  (launch/tags.py) at the end of get_config.
"""
import dataclasses
import importlib.util
import inspect
import itertools
import os
import re
from typing import Any, Callable

from experiments import config_arg

RUN_REFERENCE = "run:"  # an override value naming another run of the sweep: its workdir
DEFAULT_ARMS = {"baseline": {}}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SweepError(ValueError):
    """Bad sweep file or grid; the message is one line naming the file and the fix."""


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    overrides: tuple[tuple[str, Any], ...]  # (dotted config key, value), product first then arm
    tags: tuple[tuple[str, Any], ...]

    def override_flags(self) -> list[str]:
        return [f"--config.{key}={format_value(value)}" for key, value in self.overrides]

    @property
    def dependencies(self) -> tuple[str, ...]:
        """Names of the runs this run's overrides refer to with `run:<name>`."""
        return tuple(value[len(RUN_REFERENCE):] for _, value in self.overrides
                     if isinstance(value, str) and value.startswith(RUN_REFERENCE))

    def resolved(self, workdir_of: Callable[[str], str]) -> "Run":
        """This run with every `run:<name>` value replaced by `workdir_of(name)`."""
        def value_of(value):
            if isinstance(value, str) and value.startswith(RUN_REFERENCE):
                return workdir_of(value[len(RUN_REFERENCE):])
            return value
        return dataclasses.replace(self, overrides=tuple(
            (key, value_of(value)) for key, value in self.overrides))


@dataclasses.dataclass(frozen=True)
class Sweep:
    path: str  # the sweep file as given (relative paths stay relative, for remote workers)
    config_arg: str | None
    name: str
    runs: tuple[Run, ...]

    @property
    def config_flag(self) -> str:
        return f"--config={self.path}" + (f":{self.config_arg}" if self.config_arg else "")


def format_value(value: Any) -> str:
    """A config value as `--config.a.b=` expects it (config_flags parses by the field's type)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def safe_name(text: str) -> str:
    """`text` with every run of characters outside [A-Za-z0-9._-] replaced by '_': a folder name."""
    return _NAME_UNSAFE.sub("_", text)


def split_spec(spec: str) -> tuple[str, str | None]:
    """'experiments/x.py:a=1,b=2' -> ('experiments/x.py', 'a=1,b=2')."""
    path, sep, arg = spec.partition(".py:")
    return (path + ".py", arg) if sep else (spec, None)


def load_module(path: str):
    if not os.path.isfile(path):
        raise SweepError(f"{path}: no such sweep file; pass --sweep=experiments/<name>.py")
    spec = importlib.util.spec_from_file_location(f"sweep_{_slug(path)}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file: say which one and why, in one line
        raise SweepError(f"{path}: importing it failed: {type(e).__name__}: {e}") from e
    return module


def load(spec: str) -> Sweep:
    path, config_arg = split_spec(spec)
    module = load_module(path)
    if not callable(getattr(module, "get_config", None)):
        raise SweepError(f"{path}: defines no get_config(arg); start it from experiments/base.py")
    if not callable(getattr(module, "get_sweep", None)):
        raise SweepError(f"{path}: defines no grid; add get_sweep() returning "
                         "dict(product={'model.preset': [...], ...}, arms={...})")
    takes_arg = bool(inspect.signature(module.get_sweep).parameters)
    try:
        grid = module.get_sweep(config_arg) if takes_arg else module.get_sweep()
    except Exception as e:  # the user's code: name the file and the argument, in one line
        raise SweepError(f"{path}: get_sweep({config_arg!r}) failed: {type(e).__name__}: {e}"
                         ) from e
    name = _sweep_name(module, path, config_arg)
    return Sweep(path=path, config_arg=config_arg, name=name, runs=expand(grid, path))


def _sweep_name(module, path: str, config_arg: str | None) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    if not callable(getattr(module, "sweep_name", None)):
        return stem
    try:
        name = module.sweep_name(config_arg)
    except Exception as e:  # the user's code: name the file and the argument, in one line
        raise SweepError(f"{path}: sweep_name({config_arg!r}) failed: {type(e).__name__}: {e}"
                         ) from e
    if not isinstance(name, str) or not name or _NAME_UNSAFE.search(name):
        raise SweepError(f"{path}: sweep_name({config_arg!r}) returned {name!r}; return a folder "
                         "name of letters, digits, '.', '_' and '-'")
    return name


def expand(grid: Any, where: str) -> tuple[Run, ...]:
    """The runs of a grid (or of a list of grids), every run after the runs it depends on."""
    grids = grid if isinstance(grid, list) and grid else [grid]
    runs = [run for one in grids for run in _expand_one(one, where)]
    _check_unique([run.name for run in runs], where)
    return _dependencies_first(runs, where)


def _expand_one(grid: Any, where: str) -> list[Run]:
    if not isinstance(grid, dict) or not grid.get("product"):
        raise SweepError(f"{where}: get_sweep() must return dict(product={{config key: [values]}}, "
                         f"arms=...); got {grid!r:.80}")
    unknown = set(grid) - {"product", "arms", "names"}
    if unknown:
        raise SweepError(f"{where}: unknown sweep field(s) {sorted(unknown)}; "
                         "use product, arms and names")
    products = grid["product"] if isinstance(grid["product"], list) else [grid["product"]]
    arms = grid.get("arms") or DEFAULT_ARMS
    names = grid.get("names") or {}
    return [_make_run(combo, arm, arms[arm], names)
            for product in products for combo in _combinations(product, where) for arm in arms]


def _dependencies_first(runs: list[Run], where: str) -> tuple[Run, ...]:
    """Stable order in which each run comes after the runs it names with `run:<name>`; unknown
    names and cycles are errors."""
    by_name = {run.name: run for run in runs}
    for run in runs:
        for needed in run.dependencies:
            if needed not in by_name:
                raise SweepError(f"{where}: run {run.name} refers to {RUN_REFERENCE}{needed}, "
                                 "which is not a run of this sweep; use one of its run names")
    ordered: list[Run] = []
    placed: set[str] = set()
    while len(ordered) < len(runs):
        ready = [run for run in runs if run.name not in placed
                 and all(needed in placed for needed in run.dependencies)]
        if not ready:
            stuck = sorted(run.name for run in runs if run.name not in placed)
            raise SweepError(f"{where}: runs {stuck[:3]} depend on each other in a cycle "
                             f"({RUN_REFERENCE}<name> references); break the cycle")
        # Take the earliest ready run, so a sweep without references keeps its written order.
        ordered.append(ready[0])
        placed.add(ready[0].name)
    return tuple(ordered)


def _combinations(product: dict, where: str):
    for key, values in product.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise SweepError(f"{where}: product[{key!r}] must be a non-empty list of values")
    keys = list(product)
    for values in itertools.product(*(product[k] for k in keys)):
        yield tuple(zip(keys, values))


def _make_run(combo, arm: str, arm_overrides: dict, names: dict) -> Run:
    labels = [_label(key, value, names) for key, value in combo] + [arm]
    tags = tuple((key.rsplit(".", 1)[-1], value) for key, value in combo) + (("arm", arm),)
    return Run(name=safe_name("-".join(labels)),
               overrides=tuple(combo) + tuple(arm_overrides.items()), tags=tags)


def _label(key: str, value: Any, names: dict) -> str:
    if isinstance(value, str):
        return value
    return f"{names.get(key, key.rsplit('.', 1)[-1])}{value}"


def _check_unique(names: list[str], where: str):
    seen = set()
    for name in names:
        if name in seen:
            raise SweepError(f"{where}: two runs are both named {name!r}; make the values or "
                             "`names` labels distinct")
        seen.add(name)


def _slug(path: str) -> str:
    return re.sub(r"\W", "_", os.path.abspath(path))


def base_config(sweep: Sweep):
    """The sweep file's get_config(arg): the config every run starts from."""
    module = load_module(sweep.path)
    try:
        return module.get_config(sweep.config_arg)
    except Exception as e:  # the user's code: name the file and the argument, in one line
        raise SweepError(f"{sweep.path}: get_config({sweep.config_arg!r}) failed: "
                         f"{type(e).__name__}: {e}") from e


def apply_overrides(config, overrides):
    """`config` with dotted-key overrides ((key, value) pairs, as the trainer's --config.a.b=
    flags) set in place; returns it."""
    for key, value in overrides:
        config_arg.assign(config, key, value)
    return config


def check_overrides(sweep: Sweep, config) -> None:
    """Every override names an existing config key, so typos fail here, not after hours of queue."""
    for run in sweep.runs:
        for key, _ in run.overrides:
            node = config
            for part in key.split("."):
                if not hasattr(node, "keys") or part not in node.keys():
                    raise SweepError(
                        f"{sweep.path}: run {run.name} overrides {key!r}, which is not a config "
                        "key of get_config(); fix the key or add it to the config")
                node = node[part]
