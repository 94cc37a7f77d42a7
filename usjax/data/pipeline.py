"""The Grain input pipeline: corpus split -> shuffled, sharded, tokenized batches.

    it = pipeline.make_train_iterator(config, jax.process_index(), jax.process_count())
    batch = next(it)            # dict of numpy: the batch contract + per-row `stats/...`
    batch_stats.summarize(batch)                       # floats to log
    global_batch.global_batch(batch, mesh, P("data"))  # model inputs as global jax.Arrays
    # checkpoint: ocp.args.Composite(..., data=grain.checkpoint.CheckpointSave(it)) and
    #             grain.checkpoint.CheckpointRestore(it) to restore in place.

Levanter-style determinism: element g of the stream is record `g mod n` of the epoch-`g // n`
permutation of the n training records (seed = config.seed), and its views, augmentation and task
are drawn from numpy generators seeded with (seed, g). Global batch k is elements [k*B, (k+1)*B);
process p of P holds rows [p*B/P, (p+1)*B/P). So batch k is a pure function of (seed, k):
identical across restarts, worker counts and host counts. Everything up to the batch is a Grain
MapDataset (random access), so the iterator state is just a position and resume is exact.

Training records are the first `data.num_train_exams` exams of a fixed permutation (nested
subsets), paired by `usjax.data.alignment.align` ("exam", "image" or "shuffled:P"). Images come
from the record's exam and views, all text (report, VQA, findings) from its report exam, so
"shuffled" mispairs images and text as a unit.

Besides the five model inputs, every row (training, evaluation and empty) carries
  labels  int32 [9]        the class of each of taxonomy.DIMENSIONS, in that order: the value id,
                           len(vocabulary(dim)) for "not present", -1 for a dimension the exam was
                           not annotated for and for every dimension of an empty row. Labels come
                           from the record whose text the row carries (they describe the report;
                           under "shuffled" alignment they are mispaired with the images exactly
                           like the report is).
  masks   uint8 [V, H, W]  only with data.with_masks: 1 where any lesion of the view is, cropped
                           and resized like `images` (nearest neighbour) with the same
                           augmentation draws; zeros for masked views and views without a mask.
"""
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import grain
import ml_collections
import numpy as np

from usjax import taxonomy
from usjax.data import corpus, exam_meta, images, tasks, text_layout
from usjax.data import tokenizer as tok
from usjax.data.subsets import nested_subset
from usjax.hf import experiment as hf_experiment

# eval/findings value of a dimension a real exam was not annotated for (ABSENT is -1).
UNLABELLED = -2
# Streams of the per-element generators, so e.g. enabling augmentation leaves the tasks unchanged.
_VIEWS, _AUGMENT, _TASK = 0, 1, 2


class BadRecordError(ValueError):
    """A record of the corpus cannot be decoded (and data.skip_bad_records is False)."""


@dataclasses.dataclass(frozen=True)
class PairedRecord:
    """One training element before decoding: images of one exam, text of (usually) the same."""
    image_exam: int  # record index in the split
    views: tuple[int, ...] | None  # None: all views of the exam
    text_exam: int


@dataclasses.dataclass(frozen=True)
class ExampleMaker:
    """Turns (element index g, PairedRecord) into one batch row. Picklable for Grain workers."""
    source: Sequence
    tokenizer: tok.Tokenizer
    seed: int
    epoch_len: int
    text_len: int
    image_size: int
    max_images: int
    augment: bool
    augment_min_crop: float  # data.augment_min_crop: smallest fraction of a side a crop keeps
    skip_bad_records: bool
    task_weights: Mapping[str, float] | None  # None: evaluation, report task, no randomness
    with_masks: bool  # rows also carry the views' lesion masks
    warmup_task_weights: Mapping[str, float] | None = None  # elements g < warmup_examples
    warmup_examples: int = 0  # task warm-up steps x the global batch (g counts global elements)
    organ_in_prompt: bool = False  # data.report_prompt_organ: report prompts name the organ

    def _rng(self, g: int, stream: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, g, stream))

    def _read(self, index: int) -> dict[str, Any]:
        try:
            return self.source[index]
        except Exception as e:
            raise BadRecordError(
                f"{self.source.split} record {index} (exam id unknown) cannot be parsed: {e}; "
                f"set data.skip_bad_records=True to skip such records") from e

    def _images(self, g: int, paired: PairedRecord, record
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
        training = self.task_weights is not None
        views = range(len(record["images"])) if paired.views is None else paired.views
        chosen = images.select_views(len(views), self.max_images,
                                     self._rng(g, _VIEWS) if training else None)
        pngs = [record["images"][views[i]] for i in chosen]
        mask_pngs = ([self._mask_png(record, paired, views[i]) for i in chosen]
                     if self.with_masks else None)
        augment_rng = self._rng(g, _AUGMENT) if (training and self.augment) else None
        try:
            images_V, mask_V, masks_V = images.exam_images(
                pngs, self.max_images, self.image_size, augment_rng, mask_pngs,
                self.augment_min_crop)
        except images.ImageDecodeError as e:
            exam_id = record["exam_id"].decode()
            raise BadRecordError(
                f"{self.source.split} record {paired.image_exam} (exam {exam_id}): a view or its "
                f"mask does not decode ({e}); set data.skip_bad_records=True to skip such "
                f"records") from e
        return images_V, mask_V, masks_V, len(views)

    def _mask_png(self, record, paired: PairedRecord, view: int) -> bytes | None:
        """The view's lesion mask; None when the exam has no masks (e.g. real exams)."""
        num_masks, num_views = len(record["masks"]), len(record["images"])
        if num_masks == 0:
            return None
        if num_masks != num_views:
            raise BadRecordError(
                f"{self.source.split} record {paired.image_exam} (exam "
                f"{record['exam_id'].decode()}) has {num_masks} masks for {num_views} views; "
                f"set data.skip_bad_records=True to skip such records")
        return record["masks"][view]

    def _text(self, g: int, record) -> tasks.TextTask:
        if self.task_weights is None:
            return tasks.report_task(record, self.tokenizer, self.organ_in_prompt)
        weights = self.warmup_task_weights if g < self.warmup_examples else self.task_weights
        return tasks.sample_task(record, weights, self._rng(g, _TASK), self.tokenizer,
                                 self.organ_in_prompt)

    def __call__(self, item: tuple[int, PairedRecord]) -> dict[str, Any]:
        g, paired = item
        try:
            image_record = self._read(paired.image_exam)
            images_V, mask_V, masks_V, views_in_exam = self._images(g, paired, image_record)
            text_record = (image_record if paired.text_exam == paired.image_exam
                           else self._read(paired.text_exam))
        except BadRecordError:
            if not self.skip_bad_records:
                raise
            return self.empty_row(g, skipped=True)
        text = self._text(g, text_record)
        try:
            row = text_layout.layout(text.prompt_ids, text.target_ids, self.text_len,
                                     self.tokenizer.eos_id, self.tokenizer.pad_id)
        except ValueError as e:
            raise ValueError(f"{self.source.split} record {paired.text_exam} (exam "
                             f"{text_record['exam_id'].decode()}), task {text.task}: {e}") from e
        example = {
            "images": images_V, "image_mask": mask_V, "tokens": row.tokens,
            "loss_mask": row.loss_mask, "text_mask": row.text_mask,
            "stats/truncated": np.bool_(row.truncated), "stats/skipped": np.bool_(False),
            "stats/views_in_exam": np.int32(views_in_exam),
            "stats/task": np.int32(tasks.TASKS.index(text.task)),
            "stats/epoch": np.int32(g // self.epoch_len),
            "labels": exam_labels(text_record),
        }
        if self.with_masks:
            example["masks"] = masks_V
        if self.task_weights is None:
            example.update(_eval_fields(text_record, text, row, valid=True))
        return example

    def empty_row(self, g: int, skipped: bool) -> dict[str, Any]:
        """A row that feeds the model nothing: skipping keeps batch shapes and positions fixed."""
        t, v, s = self.text_len, self.max_images, self.image_size
        example = {
            "images": np.zeros((v, s, s, 3), np.uint8), "image_mask": np.zeros(v, bool),
            "tokens": np.full(t, self.tokenizer.pad_id, np.int32), "loss_mask": np.zeros(t, np.float32),
            "text_mask": np.zeros(t, bool), "stats/truncated": np.bool_(False),
            "stats/skipped": np.bool_(skipped), "stats/views_in_exam": np.int32(0),
            "stats/task": np.int32(0), "stats/epoch": np.int32(g // self.epoch_len),
            "labels": np.full(len(taxonomy.DIMENSIONS), -1, np.int32),
        }
        if self.with_masks:
            example["masks"] = np.zeros((v, s, s), np.uint8)
        if self.task_weights is None:
            example.update(_empty_eval_fields())
        return example


def _stream_position(g: int, _) -> int:
    return g


@functools.lru_cache(maxsize=2)  # the current epoch and, at a boundary, the next one
def _epoch_order(seed: int, num_records: int, epoch: int) -> np.ndarray:
    return np.random.default_rng((seed, num_records, epoch)).permutation(num_records)


@dataclasses.dataclass(frozen=True)
class EpochShuffle:
    """Element g -> (g, record): record g mod n of a fresh permutation per epoch g // n.
    (Grain's shuffle followed by a reseeding repeat costs ~1 ms per element; this ~1 us.)"""
    records: tuple[PairedRecord, ...]
    seed: int

    def __call__(self, g: int) -> tuple[int, PairedRecord]:
        epoch, position = divmod(g, len(self.records))
        order = _epoch_order(self.seed, len(self.records), epoch)
        return g, self.records[order[position]]


def exam_labels(record) -> np.ndarray:
    """int32 [9]: the stored class of each of taxonomy.DIMENSIONS (-1 where unlabelled)."""
    return np.array([tasks.stored_class(record, dim) for dim in taxonomy.DIMENSIONS], np.int32)


def _eval_fields(record, text: tasks.TextTask, row: text_layout.TextRow, valid: bool) -> dict:
    fields = {"eval/valid": np.bool_(valid), "eval/prompt_len": np.int32(row.prompt_len),
              "eval/exam_id": record["exam_id"].decode(), "eval/reference": text.reference}
    for dim in taxonomy.DIMENSIONS:
        value = tasks.stored_class(record, dim)
        if value < 0:
            value = UNLABELLED
        elif value == len(taxonomy.vocabulary(dim)):
            value = taxonomy.ABSENT
        fields[f"eval/findings/{dim}"] = np.int32(value)
    return fields


def _empty_eval_fields() -> dict:
    fields = {"eval/valid": np.bool_(False), "eval/prompt_len": np.int32(0),
              "eval/exam_id": "", "eval/reference": ""}
    fields.update({f"eval/findings/{dim}": np.int32(UNLABELLED)
                   for dim in taxonomy.DIMENSIONS})
    return fields


def _local_batch_size(global_batch_size: int, process_count: int) -> int:
    if global_batch_size % process_count:
        raise ValueError(f"data.batch_size={global_batch_size} is not divisible by the "
                         f"{process_count} processes; make it a multiple")
    return global_batch_size // process_count


def _shard_batches(examples: grain.MapDataset, global_batch_size: int, process_index: int,
                   process_count: int) -> grain.MapDataset:
    """Process p's rows of every global batch: local batch m of the stream belongs to process
    m mod P, and local batches k*P .. k*P+P-1 make up global batch k."""
    local = _local_batch_size(global_batch_size, process_count)
    return examples.batch(local, drop_remainder=True)[process_index::process_count]


def _example_maker(config: ml_collections.ConfigDict, source: Sequence, tokenizer: tok.Tokenizer,
                   epoch_len: int, task_weights, warmup_task_weights=None) -> ExampleMaker:
    d = config.data
    if d.image_size % 28:
        raise ValueError(f"data.image_size={d.image_size} must be a multiple of 28 "
                         "(14-pixel patches merged 2x2)")
    return ExampleMaker(source=source, tokenizer=tokenizer, seed=config.seed, epoch_len=epoch_len,
                        text_len=d.text_len, image_size=d.image_size, max_images=d.max_images,
                        augment=d.augment, augment_min_crop=d.augment_min_crop,
                        skip_bad_records=d.skip_bad_records,
                        task_weights=task_weights, with_masks=d.with_masks,
                        warmup_task_weights=warmup_task_weights,
                        warmup_examples=(tasks.task_warmup_steps(config) * d.batch_size
                                         if warmup_task_weights else 0),
                        organ_in_prompt=d.report_prompt_organ)


def training_records(config: ml_collections.ConfigDict, source: Sequence) -> list[PairedRecord]:
    """The nested subset of the train split, paired according to data.alignment."""
    from usjax.data import alignment  # corpus-generator owns it
    subset = nested_subset(len(source), config.data.num_train_exams, config.data.subset_seed,
                           what=f"the {source.split} split of {source.dataset_key}")
    meta = [(int(organ), int(views)) for organ, views in exam_meta.split_meta(source)[subset]]
    aligned = alignment.align(meta, config.data.alignment, config.seed)
    return [PairedRecord(int(subset[exam]), tuple(int(v) for v in views), int(subset[report]))
            for exam, views, report in aligned]


def train_dataset(config: ml_collections.ConfigDict, source: Sequence, tokenizer: tok.Tokenizer,
                  records: Sequence[PairedRecord], process_index: int, process_count: int
                  ) -> grain.MapDataset:
    """This process's batches as a MapDataset (random access: batch k is computed on demand)."""
    d = config.data
    weights = tasks.parse_weights(dict(d.tasks))
    # The task warm-up: the first data.task_warmup_fraction of the steps draw their tasks from
    # data.task_warmup_tasks (e.g. classification only, which makes the model read the views before
    # the reports' language dominates the gradient). Decided by the element's stream position,
    # so a resumed run continues exactly.
    warmup = (tasks.parse_weights(dict(d.task_warmup_tasks), key="data.task_warmup_tasks")
              if tasks.task_warmup_steps(config) > 0 else None)
    maker = _example_maker(config, source, tokenizer, len(records), weights, warmup)
    positions = (grain.MapDataset.source(range(len(records)))
                 .repeat(d.num_epochs)  # None: endless
                 .map_with_index(_stream_position))
    examples = positions.map(EpochShuffle(tuple(records), config.seed)).map(maker)
    return _shard_batches(examples, d.batch_size, process_index, process_count)


def to_iterator(batches: grain.MapDataset, config: ml_collections.ConfigDict
                ) -> grain.DatasetIterator:
    """A checkpointable iterator; `data.workers` > 0 computes batches in that many processes.
    Grain hands batch i to worker i mod W and reads them back in order, so the stream does not
    depend on the worker count."""
    d = config.data
    read = grain.ReadOptions(num_threads=d.read_threads, prefetch_buffer_size=2 * d.read_threads)
    dataset = batches.to_iter_dataset(read)
    if d.workers > 0:
        dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(
            num_workers=d.workers, per_worker_buffer_size=d.worker_buffer))
    return iter(dataset)


def _tokenizer_texts(source: Sequence, max_exams: int):
    """Reports and VQA text of the first exams in split order, plus every taxonomy name and
    classification prompt (so classification targets never fall back to <unk>)."""
    for i in range(min(len(source), max_exams)):
        record = source[i]
        yield record["report"].decode()
        for question, answer in zip(record["vqa"]["question"], record["vqa"]["answer"]):
            yield f"{question.decode()} {answer.decode()}"
    for dim in taxonomy.DIMENSIONS:
        yield dim.replace("_", " ") + "? " + ", ".join(taxonomy.vocabulary(dim))
    yield taxonomy.ABSENT_NAME


def tokenizer_from_source(config: ml_collections.ConfigDict, train_source) -> tok.Tokenizer:
    """The checkpoint's tokenizer when the run starts from one (model.init_from_hf), else the
    corpus' SentencePiece (trained on first use)."""
    if config.model.get("init_from_hf", ""):
        return hf_experiment.hf_tokenizer(config.model)
    return tok.load_or_train(
        train_source.dataset_dir, config.data.vocab_size, train_source.dataset_key,
        _tokenizer_texts(train_source, config.data.tokenizer_train_exams))


def tokenizer_for(config: ml_collections.ConfigDict) -> tok.Tokenizer:
    """The corpus' tokenizer: trained on its train split on first use, then read from disk."""
    return tokenizer_from_source(config, corpus.open_split(config.data.name,
                                                           config.data.data_dir, "train"))


def make_train_iterator(config: ml_collections.ConfigDict, process_index: int = 0,
                        process_count: int = 1) -> grain.DatasetIterator:
    source = corpus.open_split(config.data.name, config.data.data_dir, "train")
    tokenizer = tokenizer_from_source(config, source)
    records = training_records(config, source)
    batches = train_dataset(config, source, tokenizer, records, process_index, process_count)
    return to_iterator(batches, config)


def eval_dataset(config: ml_collections.ConfigDict, source: Sequence, tokenizer: tok.Tokenizer,
                 process_index: int, process_count: int) -> grain.MapDataset:
    """Every exam of `source` once, in split order, report task, all views up to max_images
    (evenly spaced), no augmentation. The last global batch is filled with empty rows whose
    `eval/valid` is False. Besides the batch contract, rows carry `eval/valid`, `eval/prompt_len`
    (generation starts there), `eval/exam_id`, `eval/reference` (the report) and
    `eval/findings/<dim>` (taxonomy ids, ABSENT=-1, UNLABELLED=-2) for clinical-efficacy
    metrics."""
    batch_size = config.data.batch_size
    padded = -(-len(source) // batch_size) * batch_size
    maker = _example_maker(config, source, tokenizer, max(len(source), 1), None)

    def example(g: int, index: int) -> dict[str, Any]:
        if index >= len(source):
            return maker.empty_row(g, skipped=False)
        return maker((g, PairedRecord(index, None, index)))

    examples = grain.MapDataset.source(list(range(padded))).map_with_index(example)
    return _shard_batches(examples, batch_size, process_index, process_count)


def make_eval_dataset(config: ml_collections.ConfigDict, split: str = "validation",
                      process_index: int = 0, process_count: int = 1) -> grain.MapDataset:
    """Deterministic evaluation batches of `split` (iterate it, or index batch k directly)."""
    tokenizer = tokenizer_for(config)
    source = corpus.open_split(config.data.name, config.data.data_dir, split)
    return eval_dataset(config, source, tokenizer, process_index, process_count)
