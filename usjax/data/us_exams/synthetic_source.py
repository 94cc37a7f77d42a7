"""The synthetic `us_exams` corpora: exam i is `generate_exam(i, SyntheticConfig(...))`.

The split of an exam follows from its patient id, which the generator derives from the index
alone, so the plan costs no generation and each exam is generated exactly once, as it is written.
"""
import dataclasses
import functools
import multiprocessing
from typing import Iterator

import tensorflow_datasets as tfds

from usjax.data.synthetic import SyntheticConfig, generate_exam, identity
from usjax.data.us_exams import features, splits
from usjax.data.us_exams.config import UsExamsConfig


def generator_config(config: UsExamsConfig) -> SyntheticConfig:
    fields = {f.name for f in dataclasses.fields(SyntheticConfig)}
    unknown = sorted(set(config.generator_options) - fields)
    if unknown or {"seed", "image_size"} & set(config.generator_options):
        raise ValueError(f"UsExamsConfig {config.name!r}: generator_options may set "
                         f"{', '.join(sorted(fields - {'seed', 'image_size'}))} "
                         f"(seed and image_size are fields of their own), got "
                         f"{', '.join(sorted(config.generator_options))}")
    return SyntheticConfig(seed=config.seed, image_size=config.image_size,
                           **config.generator_options)


def stored_generator_config(info: tfds.core.DatasetInfo) -> SyntheticConfig:
    """The SyntheticConfig a synthetic corpus was generated with, from its metadata."""
    stored = info.metadata["generator"]  # JSON turned tuples into lists
    return SyntheticConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in stored.items()})


def plan(config: UsExamsConfig, metadata: tfds.core.MetadataDict) -> dict[str, list[int]]:
    """Record the generator settings in `metadata` and return the exam indices of each split."""
    synthetic = generator_config(config)
    metadata.update({"source": "synthetic", "generator": dataclasses.asdict(synthetic),
                     "split_rule": splits.RULE})
    by_split = {split: [] for split in splits.SPLITS}
    for index in range(config.num_exams):
        by_split[splits.split_of(identity.patient_id(synthetic.seed, index))].append(index)
    return by_split


def examples(config: UsExamsConfig, indices: list[int], num_workers: int = 1) -> Iterator[dict]:
    """The encoded exams, in index order. With num_workers > 1, worker processes generate and
    PNG-encode (nearly all the work) and this process only serialises and writes."""
    synthetic = generator_config(config)
    if num_workers <= 1:
        yield from (_encoded_exam(index, synthetic) for index in indices)
        return
    # spawn, not fork: the parent may hold TensorFlow's thread pools, which fork can deadlock.
    with multiprocessing.get_context("spawn").Pool(num_workers) as pool:
        yield from pool.imap(functools.partial(_encoded_exam, cfg=synthetic), indices,
                             chunksize=8)


def _encoded_exam(index: int, cfg: SyntheticConfig) -> dict:
    return features.to_example(generate_exam(index, cfg))
