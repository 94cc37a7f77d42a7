"""Can the preset's vision tower see lesions at all? Train it alone on each exam's lesion count.

    python -m usjax.benchmarks.vision_probe [--steps=1500] [--config.model.preset=s5]

A diagnostic for a run whose reports state the lesion count no better than chance
(`clinical/lesion_presence/accuracy`): it separates "the tower cannot resolve the lesions at this
image size" from "the language-model objective does not teach it to". The probe is the config's
vision tower (preset and vision_* overrides) with a linear head on the maximum over patches and
views (a lesion is local and may be in any view), trained with AdamW on the count (0..3; more is
counted as 3) of every training exam; views are the evenly spaced ones evaluation uses, so no
draw varies them. It prints validation count and presence accuracy beside the majority answers'
(the most frequent training count; "a lesion" for presence). Random choices come from the
config's seed.
"""
import time

import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags
from flax import nnx
from ml_collections import config_flags

from usjax.arms.shared import label_loss
from usjax.data import corpus, images
from usjax.data.synthetic.config import MAX_LESIONS
from usjax.models import presets, vision
from usjax.train import clinical_efficacy

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/base.py", "run config")
_STEPS = flags.DEFINE_integer("steps", 1500, "optimizer steps")
_BATCH = flags.DEFINE_integer("batch", 16, "exams per step")
_LR = flags.DEFINE_float("learning_rate", 1e-3, "AdamW learning rate (constant)")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 250, "steps between validation reports")


def load_split(config, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(views uint8 [N, V, S, S, 3], view mask [N, V], lesion count [N]) of the split's exams
    whose lesions are annotated."""
    d = config.data
    source = corpus.open_split(d.name, d.data_dir, split)
    views, masks, counts = [], [], []
    for index in range(len(source)):
        record = source[index]
        count = clinical_efficacy.lesion_count_of_record(record)
        if count is None:
            continue
        chosen = images.select_views(len(record["images"]), d.max_images, None)
        pixels, mask, _ = images.exam_images([record["images"][v] for v in chosen], d.max_images,
                                             d.image_size, None)
        views.append(pixels)
        masks.append(mask)
        counts.append(min(count, MAX_LESIONS))  # a real exam may show more: "three or more"
    return np.stack(views), np.stack(masks), np.array(counts)


class CountProbe(nnx.Module):
    def __init__(self, mcfg: presets.ModelConfig, rngs: nnx.Rngs):
        self.vision = vision.VisionEncoder(mcfg, jnp.float32, rngs)
        self.head = nnx.Linear(mcfg.vision.width, MAX_LESIONS + 1, rngs=rngs)

    def __call__(self, views_BVHWC, mask_BV):
        # pooled as the training's label head pools them (usjax/arms/shared/label_loss.py)
        return self.head(label_loss.pooled_features(self, views_BVHWC, mask_BV))


@nnx.jit
def train_step(model, optimizer, views, mask, counts):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(views, mask), counts).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def predict(model, views, mask):
    return model(views, mask).argmax(-1)


def accuracies(model, data, batch: int) -> tuple[float, float]:
    views, masks, counts = data
    predicted = np.concatenate([np.asarray(predict(model, views[i:i + batch], masks[i:i + batch]))
                                for i in range(0, len(counts), batch)])
    return float((predicted == counts).mean()), float(((predicted > 0) == (counts > 0)).mean())


def main(argv):
    del argv
    config = _CONFIG.value
    started = time.perf_counter()
    train, val = load_split(config, "train"), load_split(config, "validation")
    majority = np.bincount(train[2]).argmax()
    print(f"{len(train[2])} train / {len(val[2])} validation exams loaded in "
          f"{time.perf_counter() - started:.0f} s; validation accuracy of the majority answers: "
          f"count {(val[2] == majority).mean():.2f}, presence {(val[2] > 0).mean():.2f}")
    model = CountProbe(presets.model_config(config.model), nnx.Rngs(config.seed))
    optimizer = nnx.Optimizer(model, optax.adamw(_LR.value), wrt=nnx.Param)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    for step in range(1, _STEPS.value + 1):
        rows = rng.choice(len(train[2]), _BATCH.value, replace=False)
        loss = train_step(model, optimizer, *(x[rows] for x in train))
        if step % _EVAL_EVERY.value == 0 or step == _STEPS.value:
            count, presence = accuracies(model, val, _BATCH.value)
            print(f"step {step}: train loss {float(loss):.3f}, validation count accuracy "
                  f"{count:.2f}, presence accuracy {presence:.2f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    app.run(main)
