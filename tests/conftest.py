"""Test set-up shared by every test: 8 fake CPU devices (tests/xla_env.py), before JAX starts.

XLA reads the flag once, when the CPU backend is first created, so it must be in the environment
before anything imports jax. Subprocesses the tests start inherit it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests import xla_env  # noqa: E402  (imports nothing of jax)

os.environ["XLA_FLAGS"] = xla_env.flags(8, os.environ.get("XLA_FLAGS", ""))
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # libtpu is installed for AOT; tests never use a TPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --- appended by corpus-tfds: a tiny synthetic us_exams corpus shared by every test ---
import pytest  # noqa: E402

TINY_CORPUS_EXAMS = 48
TINY_CORPUS_IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A tiny synthetic `us_exams` corpus (48 exams, 64x64 views, generator seed 0), built once per
    test session (a few seconds) into a temporary data_dir. Returns `(name, data_dir)`, with name
    "us_exams/tiny"; train, validation and test are all non-empty (split by patient).

    Random access to a split (numpy records; Text as bytes, images as uint8 arrays):
        name, data_dir = tiny_corpus
        train = tfds.data_source(name, data_dir=data_dir)["train"]
        train = usjax.data.us_exams.ensure_built(name, data_dir).as_data_source("train")
    Exam i of the corpus is `generate_exam(i, cfg)` with
        cfg = usjax.data.us_exams.synthetic_source.stored_generator_config(
            usjax.data.us_exams.ensure_built(name, data_dir).info)
    Treat data_dir as read-only: other tests share it.
    """
    from usjax.data import us_exams
    data_dir = str(tmp_path_factory.mktemp("tiny_corpus"))
    config = us_exams.UsExamsConfig(name="tiny", num_exams=TINY_CORPUS_EXAMS,
                                    image_size=TINY_CORPUS_IMAGE_SIZE, seed=0)
    us_exams.ensure_built(config, data_dir)
    return "us_exams/tiny", data_dir


# --- the slowest modules first: with `-n` workers (pytest-xdist, --dist=loadfile) a module that
# starts last runs alone at the end; measured with --durations (seconds, 2 cores, serial) ---
SLOWEST_MODULES = (
    "tests/test_readme_commands.py",                    # ~120: every README command
    "tests/train/test_train_runs.py",                   # ~170: 8 training processes
    "tests/hf/test_hf_run_from_checkpoint.py",          # ~110
    "tests/hf/test_readme_pretrained_commands.py",      # ~60
    "tests/models/test_moe_trains.py",                  # ~55
    "tests/models/test_contrastive_train.py",           # ~50
    "tests/launch/test_step_time.py",                   # ~35
)


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return SLOWEST_MODULES.index(path) if path in SLOWEST_MODULES else len(SLOWEST_MODULES)
    items.sort(key=rank)  # stable: within a module and among the rest, collection order stays
