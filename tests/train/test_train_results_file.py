"""results.json: exactly the contract's keys, written atomically; the run's counters survive
a resume."""
import json

import pytest

from tests.train import train_tiny_config
from usjax.train import model_setup
from usjax.train import results, run_accounting


def _results(**overrides):
    values = {key: 0 for key in results.RESULT_KEYS}
    values.update(metrics={"val/loss": 1.5}, config={"seed": 0}, tags={"arm": "baseline"})
    values.update(overrides)
    return values


def test_written_with_exactly_the_contract_keys_and_nothing_left_behind(tmp_path):
    results.write(str(tmp_path), _results(final_val_loss=2.5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    loaded = json.loads((tmp_path / "results.json").read_text())
    assert tuple(loaded) == results.RESULT_KEYS and loaded["final_val_loss"] == 2.5


def test_missing_or_extra_keys_are_refused_before_writing(tmp_path):
    values = _results()
    del values["flops"]
    with pytest.raises(ValueError, match="missing \\['flops'\\]"):
        results.write(str(tmp_path), values)
    with pytest.raises(ValueError, match="unexpected \\['loss'\\]"):
        results.write(str(tmp_path), _results(loss=1.0))
    assert not list(tmp_path.iterdir())


def test_config_hash_ignores_key_order_but_not_values():
    a, b = train_tiny_config.get_config(), train_tiny_config.get_config()
    assert results.config_hash(a) == results.config_hash(b)
    b.train.steps += 1
    assert results.config_hash(a) != results.config_hash(b)


def test_counters_continue_after_a_restore():
    config = train_tiny_config.get_config()
    setup = model_setup.prepare(config)
    mcfg = setup.mcfg
    first = run_accounting.RunAccounting(config, setup, num_devices=1)
    first.add_step({"real_views": 10, "text_tokens": 100})
    first.add_val_loss(1, 3.0)
    saved = first.snapshot()
    second = run_accounting.RunAccounting(config, setup, num_devices=1)
    second.restore(json.loads(json.dumps(saved)))  # as the JSON checkpoint item gives it back
    second.add_step({"real_views": 10, "text_tokens": 50})
    per_view = mcfg.tokens_per_view(config.data.image_size)
    assert second.counters.examples_seen == 2 * config.data.batch_size
    assert second.counters.tokens_seen == 20 * per_view + 150
    assert second.flops == pytest.approx(2 * config.data.batch_size * first.flops_per_example)
    assert second.counters.val_losses == {"1": 3.0}
