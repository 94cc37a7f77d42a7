"""Shared ranking metrics: R@k with ties broken against the true match, accuracy ignoring -1."""
import numpy as np
import pytest

from usjax import taxonomy
from usjax.arms.shared import ranking


def test_recall_at_k_hand_case_with_ties():
    sim = np.array([[0.9, 0.1, 0.2, 0.0],    # true match first: rank 0
                    [0.5, 0.5, 0.1, 0.0],    # tie with one other: rank 1
                    [0.3, 0.3, 0.3, 0.3],    # all equal: rank 3 (ties count against it)
                    [0.8, 0.7, 0.6, 0.65]])  # two above: rank 2
    recall = ranking.recall_at_k(sim, ks=(1, 2, 3, 4))
    assert recall == {1: 0.25, 2: 0.5, 3: 0.75, 4: 1.0}


def test_retrieval_metrics_both_directions_and_names():
    sim = np.array([[1.0, 0.0], [2.0, 0.5]])  # images x reports
    metrics = ranking.retrieval_metrics(sim)
    # image 1's own report scores 0.5 < 2.0: missed at R@1; report 0 -> image 1 scores higher: missed
    assert metrics["retrieval/image_to_report_R@1"] == 0.5
    assert metrics["retrieval/report_to_image_R@1"] == 0.5
    assert metrics["retrieval/report_to_image_R@50"] == 1.0
    assert set(metrics) == {f"retrieval/{d}_R@{k}" for d in ("image_to_report", "report_to_image")
                            for k in ranking.RECALL_KS}


def test_recall_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        ranking.recall_at_k(np.zeros((2, 3)))


def test_class_accuracy_ignores_unlabelled():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert ranking.class_accuracy(scores, np.array([1, 1, -1, 0])) == pytest.approx(2 / 3)
    assert ranking.class_accuracy(scores, np.full(4, -1)) is None


def test_classify_metrics_names_and_mean():
    labels = np.full((2, len(taxonomy.DIMENSIONS)), -1)
    labels[:, taxonomy.DIMENSIONS.index("margins")] = [0, 2]          # 2 = "not present"
    labels[:, taxonomy.DIMENSIONS.index("system")] = [3, 3]
    scores = {"margins": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),  # second wrong
              "system": np.eye(9)[[3, 3]],                             # both right
              "shape": np.zeros((2, 8))}                               # unlabelled: left out
    metrics = ranking.classify_metrics(scores, labels)
    assert metrics == {"classify/margins/accuracy": 0.5, "classify/system/accuracy": 1.0,
                       "classify/mean_accuracy": 0.75}
