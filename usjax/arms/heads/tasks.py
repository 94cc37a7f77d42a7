"""Task heads over the encoder's patch features: per-dimension classification and segmentation.

Classification (one linear head per taxonomy dimension) reads the exam embedding: patch features
mean-pooled over a view's tokens, then over the exam's real views. The nine heads are stored as
one kernel whose columns are the dimensions' classes side by side and split after the matmul:
the same math as nine separate linear layers, as one matmul. Classes of a dimension: its
vocabulary plus "not present" (last index), as the `labels` of a batch.

Segmentation (binary: lesion or not) is the linear decoder of SETR-naive/Segmenter: each patch
feature is projected to patch x patch pixel logits, which tile the image at full resolution.
"""
import itertools

import jax.numpy as jnp
from flax import nnx

from usjax import taxonomy
from usjax.arms.heads.params import HeadParam, Linear


def num_classes() -> tuple[int, ...]:
    """Classes per dimension of taxonomy.DIMENSIONS: the vocabulary plus "not present"."""
    return tuple(len(taxonomy.vocabulary(d)) + 1 for d in taxonomy.DIMENSIONS)


def pool_exam(feats_BVPW, image_mask_BV):
    """Mean over each view's tokens, then over the exam's real views -> [B, W] (zeros for a row
    without any real view)."""
    per_view = jnp.mean(feats_BVPW.astype(jnp.float32), axis=2)
    weights = image_mask_BV.astype(jnp.float32)
    summed = jnp.einsum("bvw,bv->bw", per_view, weights)
    return summed / jnp.maximum(weights.sum(axis=1), 1.0)[:, None]


class ClassificationHeads(nnx.Module):
    def __init__(self, features: int, classes: tuple[int, ...], rngs: nnx.Rngs):
        self.classes = tuple(classes)
        self.linear = Linear(HeadParam, features, sum(classes), ("vit_embed", None), rngs=rngs)

    def __call__(self, exam_BW) -> tuple:
        """[B, W] -> one [B, classes_d] logit array per dimension."""
        logits = self.linear(exam_BW)
        ends = list(itertools.accumulate(self.classes))
        return tuple(jnp.split(logits, ends[:-1], axis=-1))


class SegmentationHead(nnx.Module):
    def __init__(self, features: int, patch: int, rngs: nnx.Rngs):
        self.patch = patch
        self.linear = Linear(HeadParam, features, patch * patch, ("vit_embed", None), rngs=rngs)

    def __call__(self, feats_NSSW):
        """[N, side, side, W] patch features -> [N, side * patch, side * patch] lesion logits."""
        N, side, _, _ = feats_NSSW.shape
        p = self.patch
        logits = self.linear(feats_NSSW.astype(jnp.float32)).reshape(N, side, side, p, p)
        return logits.transpose(0, 1, 3, 2, 4).reshape(N, side * p, side * p)
