"""Sweep files expand into named runs with overrides and tags; bad grids fail in one line."""
import re

import pytest

from launch import sweep as sweep_lib
from launch.tags import tag_flags_for

TINY = "tests/launch/sweep_tiny.py"


def test_grid_expands_to_named_runs_in_order():
    sweep = sweep_lib.load(TINY)
    assert sweep.name == "sweep_tiny"
    assert [r.name for r in sweep.runs] == [
        "s1-d10-baseline", "s1-d10-broken", "s1-d20-baseline", "s1-d20-broken",
        "s2-d10-baseline", "s2-d10-broken", "s2-d20-baseline", "s2-d20-broken"]
    broken = sweep.runs[1]
    assert broken.overrides == (("model.preset", "s1"), ("data.train_exams", 10),
                                ("fake.fail", True))
    assert dict(broken.tags) == {"preset": "s1", "train_exams": 10, "arm": "broken"}
    assert broken.override_flags() == ["--config.model.preset=s1", "--config.data.train_exams=10",
                                       "--config.fake.fail=true"]


def test_config_arg_is_kept_and_passed_on():
    sweep = sweep_lib.load(TINY + ":size=big")
    assert sweep.path == TINY and sweep.config_arg == "size=big"
    assert sweep.config_flag == f"--config={TINY}:size=big"
    assert sweep_lib.base_config(sweep).fake.arg == "size=big"


def test_union_of_products_and_default_arm():
    runs = sweep_lib.expand(dict(product=[{"model.preset": ["s1"], "seed": [0, 1]},
                                          {"model.preset": ["s3"], "seed": [7]}]), "x.py")
    assert [r.name for r in runs] == ["s1-seed0-baseline", "s1-seed1-baseline", "s3-seed7-baseline"]


def test_tags_are_declared_typed_and_passed_per_key():
    sweep = sweep_lib.load(TINY)
    config = sweep_lib.base_config(sweep)
    assert set(config.tags.keys()) == {"preset", "train_exams", "arm"}
    assert config.tags.train_exams is None and config.tags.preset is None
    flags = tag_flags_for(config, TINY)(sweep.runs[1])
    assert flags == ["--config.tags.preset=s1", "--config.tags.train_exams=10",
                     "--config.tags.arm=broken"]


def test_string_tags_field_gets_json_and_undeclared_tags_fail():
    sweep = sweep_lib.load(TINY)
    config = sweep_lib.base_config(sweep)
    del config.tags["arm"]
    with pytest.raises(sweep_lib.SweepError, match="config.tags has no field 'arm'"):
        tag_flags_for(config, TINY)(sweep.runs[0])
    del config["tags"]
    config.tags = ""
    flags = tag_flags_for(config, TINY)(sweep.runs[0])
    assert flags == ['--config.tags={"arm": "baseline", "preset": "s1", "train_exams": 10}']


@pytest.mark.parametrize("grid, message", [
    (None, "must return dict(product="),
    ({"product": {}}, "must return dict(product="),
    ({"product": {"seed": []}}, "non-empty list"),
    ({"product": {"seed": [0]}, "arm": {}}, "unknown sweep field"),
    ({"product": {"seed": [0]}, "arms": {"a": {}}, "names": {"seed": ""}}, None),
    ({"product": {"x.v": ["a b", "a;b"]}}, "two runs are both named"),
])
def test_bad_grids_are_one_line(grid, message):
    if message is None:
        assert sweep_lib.expand(grid, "x.py")[0].name == "0-a"
        return
    with pytest.raises(sweep_lib.SweepError, match=re.escape(message)) as info:
        sweep_lib.expand(grid, "x.py")
    assert "\n" not in str(info.value) and str(info.value).startswith("x.py: ")


def test_unknown_override_key_is_refused_before_running():
    sweep = sweep_lib.load(TINY)
    config = sweep_lib.base_config(sweep)
    del config.fake["fail"]
    with pytest.raises(sweep_lib.SweepError, match="'fake.fail', which is not a config key"):
        sweep_lib.check_overrides(sweep, config)


def _sweep_file(tmp_path, body: str) -> str:
    path = tmp_path / "named.py"
    path.write_text("def get_config(arg=None):\n    return None\n\n"
                    "def get_sweep():\n    return dict(product={'seed': [0]})\n\n" + body)
    return str(path)


def test_sweep_name_hook_gives_each_argument_its_own_folder(tmp_path):
    path = _sweep_file(tmp_path, "def sweep_name(arg):\n    return 'named_' + (arg or 'default')\n")
    assert sweep_lib.load(path).name == "named_default"
    assert sweep_lib.load(path + ":wide").name == "named_wide"


@pytest.mark.parametrize("body, message", [
    ("def sweep_name(arg):\n    return 'a/b'\n", "returned 'a/b'; return a folder name"),
    ("def sweep_name(arg):\n    raise KeyError(arg)\n", "sweep_name('x') failed: KeyError"),
])
def test_bad_sweep_name_is_one_line(tmp_path, body, message):
    path = _sweep_file(tmp_path, body)
    with pytest.raises(sweep_lib.SweepError, match=re.escape(message)) as info:
        sweep_lib.load(path + ":x")
    assert "\n" not in str(info.value) and str(info.value).startswith(path)
