"""--config=experiments/<file>.py:arg: key=value pairs (short names or dotted keys, literal
values) set on the config, applied after the file's own values; bad pairs fail naming the pair."""
import pytest

from experiments import base, quickstart


def test_short_names_dotted_keys_and_literal_values_are_set():
    c = base.get_config("preset=s2,exams=300,seed=1,train.learning_rate=0.01,data.augment=True")
    assert (c.model.preset, c.data.num_train_exams, c.seed) == ("s2", 300, 1)
    assert c.train.learning_rate == 0.01 and c.data.augment is True
    assert base.get_config("corpus=us_exams/10k").data.name == "us_exams/10k"


def test_no_argument_gives_the_defaults():
    assert base.get_config(None).to_dict() == base.get_config("").to_dict()


def test_a_sweep_file_applies_the_argument_after_its_own_values():
    c = quickstart.get_config("seed=3,batch=4")
    assert c.seed == 3 and c.data.batch_size == 4
    assert quickstart.get_config().data.batch_size == quickstart.BATCH


@pytest.mark.parametrize("arg, message", [
    ("oops", "config argument 'oops': expected key=value"),
    ("train.nothing=1", "config key 'train.nothing' does not exist"),
    ("preset=3", "config key 'model.preset' cannot take 3"),
])
def test_a_bad_pair_is_one_error_naming_it(arg, message):
    with pytest.raises(ValueError, match=message):
        base.get_config(arg)
