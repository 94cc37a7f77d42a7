"""The per-exam attribute graph of Ultrasound-CLIP and the small heterogeneous graph network over it.

Graph of one sample: a star with nine node slots, one per taxonomy dimension in
`taxonomy.DIMENSIONS` order. The diagnosis node is the centre; each other dimension's node is linked
to it by an edge pair of its own type (attribute d -> diagnosis, diagnosis -> attribute d). A node
exists when its dimension is labelled with a real value: unlabelled (-1) and "not present"
(len(vocabulary)) slots are masked out, so they neither send nor receive messages.

Node features are a learned embedding per (dimension, class). Each of the two layers is a
heterogeneous graph convolution: a separate self-transform per node type (dimension), a separate
message transform per edge type, messages into the centre averaged over its present neighbours.
A fixed 9-slot star needs no graph library: every transform is one einsum over the slot axis.
"""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from usjax import taxonomy
from usjax.models.layers import Dense, fan_in_init, stacked_param

NUM_NODES = len(taxonomy.DIMENSIONS)
CENTRE = taxonomy.DIMENSIONS.index("diagnosis")
ATTRIBUTES = np.array([n for n in range(NUM_NODES) if n != CENTRE])
# classes per dimension: the vocabulary plus "not present" (stored as the last class)
NUM_CLASSES = np.array([len(taxonomy.vocabulary(d)) + 1 for d in taxonomy.DIMENSIONS])
CLASS_OFFSETS = np.concatenate([[0], np.cumsum(NUM_CLASSES)[:-1]])


def node_mask(labels_BN):
    """True where a node exists: a labelled dimension whose value is not "not present"."""
    labels = jnp.asarray(labels_BN)
    return (labels >= 0) & (labels < NUM_CLASSES - 1)


def _param(rngs, shape, names, init=None):
    """A float32 parameter whose leading axis indexes node or edge types (fan-in ignores it)."""
    return stacked_param(rngs, init or fan_in_init((shape[0],)), (), shape, names)


class HeteroGraphConv(nnx.Module):
    """One layer: per-node-type self transform + per-edge-type messages along the star's edges."""

    def __init__(self, features_in: int, features_out: int, rngs: nnx.Rngs):
        names = ("graph_type", "graph_in", "graph_out")
        self.self_kernel = _param(rngs, (NUM_NODES, features_in, features_out), names)
        self.self_bias = _param(rngs, (NUM_NODES, features_out), ("graph_type", "graph_out"),
                                jax.nn.initializers.zeros)
        edges = len(ATTRIBUTES)
        self.to_centre_kernel = _param(rngs, (edges, features_in, features_out), names)
        self.from_centre_kernel = _param(rngs, (edges, features_in, features_out), names)

    def __call__(self, h_BNF, mask_BN):
        present = mask_BN.astype(h_BNF.dtype)
        out = jnp.einsum("bni,nio->bno", h_BNF, self.self_kernel[...]) + self.self_bias[...]
        attr_present = present[:, ATTRIBUTES]
        to_centre = jnp.einsum("bni,nio->bno", h_BNF[:, ATTRIBUTES], self.to_centre_kernel[...])
        to_centre = (to_centre * attr_present[..., None]).sum(1) / jnp.maximum(
            attr_present.sum(1, keepdims=True), 1.0)
        from_centre = jnp.einsum("bi,nio->bno", h_BNF[:, CENTRE], self.from_centre_kernel[...])
        from_centre = from_centre * present[:, CENTRE, None, None]
        out = out.at[:, CENTRE].add(to_centre).at[:, ATTRIBUTES].add(from_centre)
        return out * present[..., None]  # absent nodes stay empty


class GraphEncoder(nnx.Module):
    """labels [B, 9] -> keys for the text tokens: [pooled graph, node 0..8] in the text width, and
    their validity [B, 10] (the pooled token always exists, so an empty graph is a valid key)."""

    def __init__(self, hidden: int, text_width: int, dtype, rngs: nnx.Rngs):
        self.class_embed = stacked_param(rngs, jax.nn.initializers.normal(1.0), (),
                                         (int(NUM_CLASSES.sum()), hidden), ("graph_class", "graph_out"))
        self.layer1 = HeteroGraphConv(hidden, hidden, rngs)
        self.layer2 = HeteroGraphConv(hidden, hidden, rngs)
        self.node_proj = Dense(hidden, text_width, ("graph_out", "embed"), use_bias=True, dtype=dtype, rngs=rngs)
        self.pool_proj = Dense(hidden, text_width, ("graph_out", "embed"), use_bias=True, dtype=dtype, rngs=rngs)

    def __call__(self, labels_BN):
        mask = node_mask(labels_BN)
        classes = jnp.where(mask, labels_BN, 0) + CLASS_OFFSETS
        h = jnp.take(self.class_embed[...], classes, axis=0) * mask[..., None]
        h = jax.nn.gelu(self.layer1(h, mask), approximate=False)
        h = self.layer2(h, mask)
        pooled = h.sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1).astype(h.dtype)
        keys = jnp.concatenate([self.pool_proj(pooled)[:, None], self.node_proj(h)], axis=1)
        valid = jnp.concatenate([jnp.ones_like(mask[:, :1]), mask], axis=1)
        return keys, valid
