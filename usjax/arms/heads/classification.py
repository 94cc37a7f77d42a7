"""Per-dimension classification: the training loss and the evaluation metrics (scikit-learn).

Labels are int32 [B, 9] in taxonomy.DIMENSIONS order; -1 = unlabelled (left out of that
dimension); class len(vocabulary(dim)) = "not present".

Loss of a row: mean cross-entropy over its labelled dimensions (0 when it has none). Summed over
rows and divided by the real rows, this is the mean CE over labelled (row, dimension) pairs when
every real row is fully labelled (the synthetic corpus), and it stays exactly additive over
micro-batches.

Metrics of one dimension over its labelled exams: accuracy of the argmax; macro F1 over the
classes that occur in the targets or the predictions (scikit-learn's default; a class never
predicted and never true does not count); AUC one-vs-rest from the softmax probabilities,
averaged over the classes present in the targets (a class needs positives and negatives), left
out when fewer than two classes are present.
"""
import jax
import jax.numpy as jnp
import numpy as np
from sklearn import metrics as skm


def loss_and_hits_per_row(logits_per_dim, labels_BD):
    """([B] mean CE over labelled dims, [B] share of labelled dims whose argmax is right)."""
    losses, hits = [], []
    for d, logits in enumerate(logits_per_dim):
        label = labels_BD[:, d]
        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        safe = jnp.maximum(label, 0)
        losses.append(-jnp.take_along_axis(logp, safe[:, None], axis=-1)[:, 0])
        hits.append((jnp.argmax(logits, axis=-1) == safe).astype(jnp.float32))
    labelled = (labels_BD >= 0).astype(jnp.float32)
    count = jnp.maximum(labelled.sum(axis=1), 1.0)
    loss = jnp.sum(jnp.stack(losses, axis=1) * labelled, axis=1) / count
    hit = jnp.sum(jnp.stack(hits, axis=1) * labelled, axis=1) / count
    return loss, hit


def dimension_metrics(labels, probs) -> dict[str, float]:
    """accuracy, macro_f1 and (when defined) auc of one dimension; labels [N] >= 0, probs [N, C]."""
    labels, probs = np.asarray(labels), np.asarray(probs, np.float64)
    predicted = probs.argmax(axis=1)
    out = {"accuracy": float(np.mean(predicted == labels)),
           "macro_f1": float(skm.f1_score(labels, predicted, average="macro", zero_division=0))}
    present = np.unique(labels)
    if len(present) >= 2:
        out["auc"] = float(np.mean([skm.roc_auc_score(labels == c, probs[:, c]) for c in present]))
    return out
