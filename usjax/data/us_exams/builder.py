"""The TFDS builder `us_exams`: synthetic or imported ultrasound exams, written as array_record.

Defining the class registers it with TFDS. Records are written in generation order (TFDS's
shuffle disabled): Grain shuffles at read time, and a split's record i is its i-th exam.
"""
import tensorflow_datasets as tfds
from absl import logging

from usjax.data import real_exams
from usjax.data.us_exams import features, real_source, synthetic_source
from usjax.data.us_exams.config import STANDARD_CONFIGS, UsExamsConfig


class UsExams(tfds.core.GeneratorBasedBuilder):
    """Ultrasound exams: views, lesion masks, report, VQA and taxonomy findings per exam."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "First release.",
                     "1.1.0": "Synthetic views carry the organ's body marker in their top-left "
                              "corner (usjax/data/synthetic/body_marker.py)."}
    BUILDER_CONFIGS = list(STANDARD_CONFIGS)
    MANUAL_DOWNLOAD_INSTRUCTIONS = real_exams.__doc__

    def __init__(self, *, num_workers: int = 1, file_format=None, **kwargs):
        """num_workers: processes that generate and encode synthetic exams while this one writes
        (the content does not depend on it)."""
        # array_record is what gives tfds.data_source random access; TFDS would default to tfrecord.
        super().__init__(file_format=file_format or "array_record", **kwargs)
        self._num_workers = num_workers

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=features.exam_features(),
            metadata=tfds.core.MetadataDict(),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config: UsExamsConfig = self.builder_config
        self.info.metadata["builder_config"] = config_record(config)
        if config.source == "real":
            work = real_source.plan(dl_manager.manual_dir, config.skip_bad_exams,
                                    self.info.metadata)
        else:
            work = synthetic_source.plan(config, self.info.metadata)
        empty = [split for split, items in work.items() if not items]
        if empty:  # TFDS cannot write an empty split; small corpora simply lack it
            logging.warning("us_exams/%s: no exam falls in split(s) %s; they are left out",
                            config.name, ", ".join(empty))
        return {split: self._generate_examples(items) for split, items in work.items() if items}

    def _generate_examples(self, items):
        if self.builder_config.source == "real":
            examples = real_source.examples(items)
        else:
            examples = synthetic_source.examples(self.builder_config, items, self._num_workers)
        # Keys keep generation order (shuffling is disabled) and are spread over [0, 2**128):
        # TFDS sorts records in 1000 on-disk buckets by key / 2**128, and small keys would pile
        # into one bucket that is then sorted in memory (the whole split, gigabytes for 100k).
        stride = 2**128 // len(items)
        for position, example in enumerate(examples):
            yield position * stride, example


def config_record(config: UsExamsConfig) -> dict:
    """The settings that define a corpus's content, as stored in its metadata."""
    if config.source == "real":
        return {"source": "real", "skip_bad_exams": config.skip_bad_exams}
    return {"source": "synthetic", "num_exams": config.num_exams,
            "image_size": config.image_size, "seed": config.seed,
            "generator_options": dict(config.generator_options)}
