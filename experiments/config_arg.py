"""The `:arg` of `--config=experiments/<file>.py:arg` (big_vision style) for files built on base.py:
comma-separated key=value pairs set on the file's config, e.g.

    --config=experiments/base.py:preset=s2,exams=300,seed=1

A key is a dotted config key (`train.learning_rate`) or one of SHORT_NAMES; a value is a Python
literal (3, 0.5, True, 'text') or else a bare string (s2, us_exams/1k). An unknown key or a value
of the wrong type is an error naming the pair, raised before anything runs.
"""
import ast

SHORT_NAMES = {"preset": "model.preset", "exams": "data.num_train_exams", "steps": "train.steps",
               "batch": "data.batch_size", "corpus": "data.name", "seed": "seed"}


def parse(arg: str | None) -> list[tuple[str, object]]:
    pairs = []
    for item in filter(None, (arg or "").split(",")):
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"config argument {item!r}: expected key=value, e.g. preset=s2 "
                             f"(short names: {', '.join(SHORT_NAMES)}, or any dotted config key)")
        pairs.append((SHORT_NAMES.get(key, key), _literal(text)))
    return pairs


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):  # a bare word such as s2 or us_exams/1k
        return text


def assign(config, key: str, value) -> None:
    """config.<key> = value for a dotted key that must already exist in config."""
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
        node = node[part] if _has(node, part) else _unknown(key)
    if not _has(node, leaf):
        _unknown(key)
    try:
        node[leaf] = value
    except TypeError as e:
        raise ValueError(f"config key {key!r} cannot take {value!r}: {e}") from None


def _has(node, name: str) -> bool:
    return hasattr(node, "keys") and name in node.keys()


def _unknown(key: str):
    raise ValueError(f"config key {key!r} does not exist; see usjax/defaults.py for the knobs "
                     "and their names")


def apply(config, arg: str | None):
    """`config` with the pairs of `arg` set in place; returns it."""
    for key, value in parse(arg):
        assign(config, key, value)
    return config
