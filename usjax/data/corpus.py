"""Random access to one split of the TFDS corpus, records parsed but images left as PNG bytes.

TFDS would decode every image (and mask) on read and, when one is corrupt, fail without telling
which exam it was. We read raw bytes and parse the tf.Example with TFDS's NumPy parser instead, so
the pipeline decodes only the views it uses and can name the exam of a bad one. A record is then a
nested dict: Text as bytes, ClassLabel as int, Sequence(Image) as an array of PNG bytes, Sequence
of a dict as a dict of arrays (e.g. record["vqa"]["question"]).
"""
from collections.abc import Sequence
from typing import Any

import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import example_parser


class ParsedSource(Sequence):
    """A split as a random-access sequence of parsed records. Picklable for Grain workers."""

    def __init__(self, raw_source, info: tfds.core.DatasetInfo, split: str):
        self._raw = raw_source
        self._specs = info.features.get_serialized_info()
        self.split = split
        self.dataset_key = dataset_key(info)
        self.dataset_dir = epath.Path(info.data_dir)
        self._parser = None

    def __getstate__(self):
        return {**self.__dict__, "_parser": None}  # rebuilt lazily in each worker

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._parser is None:
            self._parser = example_parser.ExampleParserNp(self._specs)
        return self._parser.parse_example(self._raw[index])


def dataset_key(info: tfds.core.DatasetInfo) -> str:
    """Names a dataset exactly: name/config/version plus split sizes (a rebuilt config with other
    contents gets another key, so a stale tokenizer is caught)."""
    sizes = ",".join(f"{name}={split.num_examples}" for name, split in sorted(info.splits.items()))
    return f"{info.full_name} [{sizes}]"


def open_split(name: str, data_dir: str, split: str) -> ParsedSource:
    """The split of TFDS dataset `name` (e.g. "us_exams/1k"), built first if it is missing."""
    from usjax.data import us_exams  # registers the builder; corpus-tfds owns it
    data_dir = str(epath.Path(data_dir).expanduser())
    us_exams.ensure_built(name, data_dir)
    raw = tfds.data_source(name, split=split, data_dir=data_dir, download=False,
                           deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    return ParsedSource(raw, raw.dataset_info, split)
