"""Open a `us_exams` corpus, building it first when `data_dir` does not hold it yet."""
import contextlib
import io
import logging
import os
import time

import tensorflow_datasets as tfds

from usjax.data.us_exams.builder import UsExams, config_record
from usjax.data.us_exams.config import UsExamsConfig

DATASET_NAME = "us_exams"


def ensure_built(name_or_config: str | UsExamsConfig, data_dir: str | os.PathLike,
                 manual_dir: str | os.PathLike | None = None, num_workers: int = 1
                 ) -> tfds.core.DatasetBuilder:
    """The builder of a prepared corpus. `name_or_config` is "us_exams/1k", "1k", or a
    `UsExamsConfig` (ad hoc corpora); `manual_dir` is needed to build `real`; `num_workers`
    processes generate synthetic exams in parallel when a build is needed.

    Read a split with random access: `ensure_built(...).as_data_source("train")`, or, once built,
    `tfds.data_source("us_exams/<config name>", data_dir=data_dir)` (works for ad hoc configs too:
    TFDS reads them back from their files).
    """
    data_dir = os.path.expanduser(os.fspath(data_dir))
    with _no_unfinished_folder_warnings():
        builder = _builder(name_or_config, data_dir, num_workers)
        if isinstance(builder, UsExams) and builder.is_prepared():
            _check_same_settings(builder)
        if not builder.is_prepared():
            _prepare(builder, tfds.download.DownloadConfig(
                manual_dir=os.fspath(manual_dir) if manual_dir is not None else None))
    return builder


class _UnfinishedFolderFilter(logging.Filter):
    """TFDS warns that a version folder it is about to fill has no dataset_info.json yet."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Variant folder %s has no")


@contextlib.contextmanager
def _no_unfinished_folder_warnings():
    absl_logger, own_filter = logging.getLogger("absl"), _UnfinishedFolderFilter()
    absl_logger.addFilter(own_filter)
    try:
        yield
    finally:
        absl_logger.removeFilter(own_filter)


def _prepare(builder: tfds.core.DatasetBuilder, download_config) -> None:
    """Build the corpus with two lines of our own in place of TFDS's banner and progress bars
    (its sizes read "Unknown" for a generated corpus; nothing in them to act on)."""
    print(f"building corpus {builder.info.full_name} in {builder.data_dir} (once; runs reuse it)",
          flush=True)
    start = time.perf_counter()
    tfds.display_progress_bar(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            builder.download_and_prepare(download_config=download_config)
    finally:
        tfds.display_progress_bar(True)
    splits = builder.info.splits
    sizes = ", ".join(f"{name} {splits[name].num_examples}"
                      for name in ("train", "validation", "test") if name in splits)
    print(f"built corpus {builder.info.full_name} ({sizes} exams) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def _builder(name_or_config: str | UsExamsConfig, data_dir: str, num_workers: int
             ) -> tfds.core.DatasetBuilder:
    if isinstance(name_or_config, UsExamsConfig):
        return UsExams(config=name_or_config, data_dir=data_dir, num_workers=num_workers)
    dataset, _, config_name = name_or_config.rpartition("/")
    if dataset not in ("", DATASET_NAME):
        raise ValueError(f"data name {name_or_config!r}: expected 'us_exams/<config>'")
    if config_name in UsExams.builder_configs:
        return UsExams(config=config_name, data_dir=data_dir, num_workers=num_workers)
    try:  # an ad hoc config built earlier: TFDS reads it back from its files
        return tfds.builder(f"{DATASET_NAME}/{config_name}", data_dir=data_dir)
    except ValueError as error:  # TFDS's "not found" errors are ValueErrors
        raise ValueError(
            f"us_exams config {config_name!r} is neither registered "
            f"({', '.join(UsExams.builder_configs)}) nor built in {data_dir}; build it by passing "
            f"a UsExamsConfig(name={config_name!r}, ...)") from error


def _check_same_settings(builder: UsExams) -> None:
    """A corpus on disk built with other settings under the same name is an error, not a reuse."""
    stored = builder.info.metadata.get("builder_config")
    wanted = config_record(builder.builder_config)
    if stored is not None and stored != wanted:
        raise ValueError(f"{builder.data_dir} was built with {stored}, not {wanted}; give the new "
                         "config another name or delete that directory")
