"""Likelihood scoring of the generative arm (usjax.arms.shared.likelihood) on a tiny model: every score
equals the model's loss on that pair computed directly, and the shared table has its names."""
import contextlib

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from usjax import taxonomy
from usjax.arms.shared import context, likelihood, ranking
from usjax.data import pipeline, tasks, text_layout
from usjax.data import tokenizer as tok
from usjax.models import presets, vlm
from usjax.train.loss import next_token_loss
from tests.data.test_pipeline_records import memory_source, tiny_config

NUM_EXAMS = 5  # 25 report pairs: the last batch of 8 is partly padding
INPUT_KEYS = ("images", "image_mask", "tokens", "loss_mask", "text_mask", "labels")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    source = memory_source(7, tmp_path_factory.mktemp("likelihood"))
    source.split = "validation"
    config = tiny_config(batch_size=8, text_len=96)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    mesh = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    return context.EvalContext(
        config=config, tokenizer=tokenizer, val_source=source,
        batches=pipeline.eval_dataset(config, source, tokenizer, 0, 1), num_exams=NUM_EXAMS,
        to_global=lambda batch: {k: jax.device_put(batch[k], sharding) for k in INPUT_KEYS},
        gather=np.asarray, mesh_context=contextlib.nullcontext)


@pytest.fixture(scope="module")
def model(ctx):
    mcfg = presets.build("s0", vocab_size=ctx.tokenizer.vocab_size)
    model = vlm.VisionLanguageModel(mcfg, rngs=nnx.Rngs(params=3, dropout=4))
    model.eval()
    return model


@pytest.fixture(scope="module")
def exams(ctx):
    return likelihood.exam_rows(ctx)


@nnx.jit
def _batch_loss(model, images, image_mask, tokens, loss_mask):
    logits = model(images, image_mask, tokens, tokens != tok.PAD_ID)
    return next_token_loss(logits, tokens, loss_mask)[0]


def _loss(model, ctx, images, image_mask, tokens, loss_mask) -> float:
    """The training loss of one row, padded to data.text_len like a training row."""
    text_len = ctx.config.data.text_len
    padded = np.zeros(text_len, np.int32)
    padded[:len(tokens)] = tokens
    padded_mask = np.zeros(text_len, np.float32)
    padded_mask[:len(loss_mask)] = loss_mask
    return float(_batch_loss(model, images[None], image_mask[None], padded[None],
                             padded_mask[None]))


def test_exam_rows_are_the_first_validation_exams(ctx, exams):
    assert exams["images"].shape[0] == NUM_EXAMS and exams["labels"].shape == (NUM_EXAMS, 9)
    first = ctx.batches[0]
    assert np.array_equal(exams["tokens"], first["tokens"][:NUM_EXAMS])
    assert exams["labels"][2].tolist() == pipeline.exam_labels(ctx.val_source[2]).tolist()


def test_similarity_is_the_negated_loss_of_each_pair(ctx, model, exams):
    similarity = likelihood.report_similarity(model, ctx, exams)
    assert similarity.shape == (NUM_EXAMS, NUM_EXAMS)
    for i, j in [(0, 0), (1, 3), (4, 2), (4, 4)]:  # (4, *) sit in the padded last batch
        loss = _loss(model, ctx, exams["images"][i], exams["image_mask"][i],
                     exams["tokens"][j], exams["loss_mask"][j])
        np.testing.assert_allclose(similarity[i, j], -loss, rtol=1e-4, atol=1e-4)
    assert np.ptp(similarity) > 1e-3  # images and reports both move the score


def test_class_scores_are_the_log_probability_of_each_answer(ctx, model, exams):
    scores = likelihood.class_scores(model, ctx, exams)
    assert list(scores) == list(taxonomy.DIMENSIONS)
    for dim in taxonomy.DIMENSIONS:
        assert scores[dim].shape == (NUM_EXAMS, len(taxonomy.vocabulary(dim)) + 1)
    exam, dim = 1, "echogenicity"
    record = ctx.val_source[exam]
    question = [tok.BOS_ID, ctx.tokenizer.task_id("classify"),
                *ctx.tokenizer.encode("echogenicity?")]
    names = [*taxonomy.vocabulary(dim), taxonomy.ABSENT_NAME]
    for c, name in enumerate(names):
        answer = [*ctx.tokenizer.encode(name), tok.EOS_ID]
        tokens = np.zeros(len(question) + len(answer), np.int32)
        tokens[:] = question + answer
        loss_mask = np.r_[np.zeros(len(question)), np.ones(len(answer))].astype(np.float32)
        loss = _loss(model, ctx, exams["images"][exam], exams["image_mask"][exam], tokens,
                     loss_mask)
        np.testing.assert_allclose(scores[dim][exam, c], -loss * len(answer), rtol=1e-4,
                                   atol=1e-4)
    # the candidate of the exam's own class is exactly its training row
    texts, slices = likelihood.class_texts(ctx)
    own = tasks.classify_task(record, dim, ctx.tokenizer)
    row = text_layout.layout(own.prompt_ids, own.target_ids, ctx.config.data.text_len)
    candidate = slices[dim].start + tasks.stored_class(record, dim)
    assert np.array_equal(texts["tokens"][candidate], row.tokens)
    assert np.array_equal(texts["loss_mask"][candidate], row.loss_mask)


def test_shared_table_names_and_ranges(ctx, model):
    table = likelihood.shared_table(model, ctx)
    expected = {f"retrieval/{d}_R@{k}" for d in ("image_to_report", "report_to_image")
                for k in ranking.RECALL_KS}
    expected |= {f"classify/{dim}/accuracy" for dim in taxonomy.DIMENSIONS}
    expected.add("classify/mean_accuracy")
    assert set(table) == expected
    assert all(0.0 <= v <= 1.0 for v in table.values())
    assert table["retrieval/image_to_report_R@5"] == 1.0  # 5 candidates: all in the top 5


class _RegionEcho(nnx.Module):
    """A stand-in with the MoE forward signature and the VLM's own region read: the target
    token's logit is the region."""

    region = vlm.VisionLanguageModel.region

    def __init__(self, vocab: int):
        self.vocab = vocab
        self.cfg = presets.build("s0", moe={"experts": 2, "region_routing": True})

    def forward(self, images, image_mask, tokens, text_mask, region=None):
        one_hot = jax.nn.one_hot(tokens, self.vocab)
        return one_hot * region[:, None, None].astype(one_hot.dtype), {}


def test_forward_gets_the_exam_body_system_as_region(ctx, exams):
    vocab = ctx.tokenizer.vocab_size
    similarity = likelihood.report_similarity(_RegionEcho(vocab), ctx, exams)
    system = exams["labels"][:, taxonomy.DIMENSIONS.index("system")].astype(np.float64)
    expected = system - np.log(np.exp(system) + vocab - 1)  # log-softmax of the target token
    np.testing.assert_allclose(similarity, np.repeat(expected[:, None], NUM_EXAMS, axis=1),
                               rtol=1e-5)
    assert len(set(system.tolist())) > 1  # exams of different systems tell the rows apart
