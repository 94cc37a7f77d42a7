"""Retrieval recall and classification accuracy from score matrices: the shared table every arm fills.

Every arm scores (query, candidate) pairs its own way (cosine of towers, likelihood, head logits);
this module turns the scores into the metric names analysis/ joins on:

    retrieval/image_to_report_R@{k}, retrieval/report_to_image_R@{k}    k in RECALL_KS
    classify/{dim}/accuracy, classify/mean_accuracy

Retrieval: query i's true match is candidate i (the exam's own report / image set). Its rank is the
number of *other* candidates scoring at least as high as the true one, so ties count against the
true match (a model that scores everything equal gets R@1 = 0, not a lucky 1).
"""
import numpy as np

from usjax import taxonomy

RECALL_KS = (1, 5, 10, 50)
MEAN_ACCURACY = "classify/mean_accuracy"


def retrieval_name(direction: str, k: int) -> str:
    """direction: "image_to_report" or "report_to_image"."""
    return f"retrieval/{direction}_R@{k}"


def accuracy_name(dimension: str) -> str:
    return f"classify/{dimension}/accuracy"


def recall_at_k(similarity_QC, ks=RECALL_KS) -> dict[int, float]:
    """Share of queries whose true match (candidate q for query q) ranks in the top k."""
    sim = np.asarray(similarity_QC, np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"recall_at_k needs a square [queries, candidates] matrix, got {sim.shape}")
    true_Q = np.diagonal(sim)
    # >= counts the true match itself once; ties with others push it down
    rank_Q = (sim >= true_Q[:, None]).sum(axis=1) - 1
    return {k: float(np.mean(rank_Q < k)) for k in ks}


def retrieval_metrics(similarity_image_report) -> dict[str, float]:
    """Both directions from one [exam images, exam reports] similarity matrix."""
    sim = np.asarray(similarity_image_report)
    metrics = {retrieval_name("image_to_report", k): v for k, v in recall_at_k(sim).items()}
    metrics.update({retrieval_name("report_to_image", k): v for k, v in recall_at_k(sim.T).items()})
    return metrics


def class_accuracy(scores_NC, labels_N) -> float | None:
    """Argmax accuracy over the labelled rows (label >= 0); None when no row is labelled."""
    scores, labels = np.asarray(scores_NC), np.asarray(labels_N)
    labelled = labels >= 0
    if not labelled.any():
        return None
    return float(np.mean(np.argmax(scores[labelled], axis=1) == labels[labelled]))


def classify_metrics(scores_by_dim: dict, labels_N9) -> dict[str, float]:
    """scores_by_dim[dim]: [N, len(vocabulary(dim)) + 1] (the last class is "not present");
    labels_N9: classes in taxonomy.DIMENSIONS order, -1 unlabelled. Dimensions without any
    labelled exam are left out, and so is the mean when no dimension is labelled."""
    labels = np.asarray(labels_N9)
    metrics = {}
    for dim, scores in scores_by_dim.items():
        accuracy = class_accuracy(scores, labels[:, taxonomy.DIMENSIONS.index(dim)])
        if accuracy is not None:
            metrics[accuracy_name(dim)] = accuracy
    if metrics:
        metrics[MEAN_ACCURACY] = float(np.mean(list(metrics.values())))
    return metrics
