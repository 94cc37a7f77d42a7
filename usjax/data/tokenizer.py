"""SentencePiece tokenizer trained on a corpus' train-split text, stored beside the corpus.

Special ids are fixed by the batch contract: pad=0, bos=1, eos=2 (the "end" token), unk=3, then
the image placeholder and one token per task prompt (`SPECIAL_SYMBOLS` order). The model file is
written under the dataset's own directory (name/config/version), next to a JSON sidecar naming the
dataset it was trained for; loading it for another dataset version or config is an error, because
token ids would silently mean different strings.
"""
import dataclasses
import io
import json
from collections.abc import Iterable

import sentencepiece as spm
from etils import epath

from usjax.atomic import atomic_write

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
IMAGE_SYMBOL = "<image>"
TASK_SYMBOLS = {"report": "<report>", "vqa": "<vqa>", "classify": "<classify>"}
SPECIAL_SYMBOLS = (IMAGE_SYMBOL, *TASK_SYMBOLS.values())
# Names the training settings in `train`; change it when they change, so stored models are redone.
RECIPE = "spm-bpe-crossword-v1"


class TokenizerMismatchError(ValueError):
    """The stored tokenizer was trained for another dataset (version, config or vocab size)."""


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    """A SentencePiece model plus the dataset key it belongs to. Picklable (Grain workers)."""
    model_proto: bytes
    dataset_key: str

    def __post_init__(self):
        processor = spm.SentencePieceProcessor(model_proto=self.model_proto)
        object.__setattr__(self, "_processor", processor)

    def __getstate__(self):
        return {"model_proto": self.model_proto, "dataset_key": self.dataset_key}

    def __setstate__(self, state):
        object.__setattr__(self, "model_proto", state["model_proto"])
        object.__setattr__(self, "dataset_key", state["dataset_key"])
        self.__post_init__()

    @property
    def vocab_size(self) -> int:
        """Number of pieces; at most the configured size (smaller when the text is too small)."""
        return self._processor.piece_size()

    def encode(self, text: str) -> list[int]:
        return self._processor.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids up to the first eos; pad ids are dropped."""
        kept = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i != PAD_ID:
                kept.append(i)
        return self._processor.decode(kept)

    def symbol_id(self, symbol: str) -> int:
        token_id = self._processor.piece_to_id(symbol)
        if self._processor.id_to_piece(token_id) != symbol:
            raise KeyError(f"{symbol!r} is not a special symbol of this tokenizer")
        return token_id

    # The text-side protocol the pipeline, evaluation and decoding use; usjax.hf.tokenizer's
    # HFTokenizer (runs from a Hugging Face checkpoint) offers the same.
    pad_id, eos_id, unk_id = PAD_ID, EOS_ID, UNK_ID

    def prompt_ids(self, task: str, text: str = "") -> list[int]:
        """What precedes the answer: [bos][task symbol][text]."""
        return [BOS_ID, self.task_id(task), *(self.encode(text) if text else [])]

    @property
    def image_id(self) -> int:
        return self.symbol_id(IMAGE_SYMBOL)

    def task_id(self, task: str) -> int:
        return self.symbol_id(TASK_SYMBOLS[task])


def train(texts: Iterable[str], vocab_size: int, dataset_key: str) -> Tokenizer:
    """Trains deterministically (one thread, input order kept): same texts -> same bytes.

    BPE with pieces that may span words: reports are formulaic, and multi-word pieces halve their
    length (1k corpus, 2000 pieces: 87 tokens per report on average, 182 at most; unigram
    restricted to single words stops at ~450 pieces and 229 tokens per report)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
        model_type="bpe", split_by_whitespace=False, character_coverage=1.0, pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID, unk_id=UNK_ID, user_defined_symbols=list(SPECIAL_SYMBOLS),
        num_threads=1, shuffle_input_sentence=False, max_sentence_length=1 << 16,
        # A tiny corpus cannot fill a large vocabulary; keep what it supports (<= vocab_size).
        hard_vocab_limit=False, minloglevel=2)
    return Tokenizer(model.getvalue(), dataset_key)


def _paths(directory: epath.Path, vocab_size: int) -> tuple[epath.Path, epath.Path]:
    stem = directory / f"tokenizer_spm{vocab_size}"
    return epath.Path(f"{stem}.model"), epath.Path(f"{stem}.json")


def save(tokenizer: Tokenizer, directory: epath.PathLike, vocab_size: int) -> None:
    model_path, meta_path = _paths(epath.Path(directory), vocab_size)
    atomic_write(model_path, tokenizer.model_proto)
    meta = {"dataset_key": tokenizer.dataset_key, "vocab_size": vocab_size,
            "special_symbols": list(SPECIAL_SYMBOLS), "recipe": RECIPE}
    atomic_write(meta_path, json.dumps(meta, indent=1).encode())


def load(directory: epath.PathLike, vocab_size: int, dataset_key: str) -> Tokenizer | None:
    """The stored tokenizer for this dataset, None if there is none, an error if it is foreign."""
    model_path, meta_path = _paths(epath.Path(directory), vocab_size)
    if not model_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta["dataset_key"] != dataset_key:
        raise TokenizerMismatchError(
            f"tokenizer {model_path} was trained for dataset {meta['dataset_key']!r}, not "
            f"{dataset_key!r}; delete it (and its .json) to retrain for this dataset version")
    if (tuple(meta["special_symbols"]), meta.get("recipe")) != (SPECIAL_SYMBOLS, RECIPE):
        raise TokenizerMismatchError(
            f"tokenizer {model_path} was trained with special symbols {meta['special_symbols']} "
            f"and recipe {meta.get('recipe')!r}; this code uses {list(SPECIAL_SYMBOLS)} and "
            f"{RECIPE!r}; delete it (and its .json) to retrain")
    return Tokenizer(model_path.read_bytes(), dataset_key)


def load_or_train(directory: epath.PathLike, vocab_size: int, dataset_key: str,
                  texts: Iterable[str]) -> Tokenizer:
    """Reuses the tokenizer stored in `directory`, training and saving it on first use.

    `texts` is only iterated when training, so pass a lazy iterable.
    """
    stored = load(directory, vocab_size, dataset_key)
    if stored is not None:
        return stored
    tokenizer = train(texts, vocab_size, dataset_key)
    save(tokenizer, directory, vocab_size)
    return tokenizer
