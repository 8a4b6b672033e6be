"""The ``auto`` strategy: choose from dataset size and how well ImageNet features separate the classes.

Similarity is measured, not assumed: a nearest-centroid classifier (cosine, 5-fold on the training
features) is scored on the backbone's final pooled features and on an earlier layer's. Final-layer
features are ImageNet-specific; when they separate the data at least about as well as the earlier,
more generic ones, the data is "like ImageNet". The classic transfer-learning table then decides:

| data           | like ImageNet        | unlike ImageNet            |
|----------------|----------------------|----------------------------|
| small          | feature_extraction   | feature_extraction_early   |
| large          | fine_tune            | fine_tune_all              |
"""
from __future__ import annotations

from typing import Any

import numpy as np

LARGE_PER_CLASS = 300  # training images per class from which fine-tuning pays off
SIMILARITY_MARGIN = 0.02  # final-layer features may trail early ones by this much and still count as similar


def centroid_accuracy(features: np.ndarray, labels: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """k-fold accuracy of a cosine nearest-centroid classifier on L2-normalized features."""
    f = features.reshape(len(features), -1).astype(np.float64)
    f = f - f.mean(axis=0)
    f /= np.linalg.norm(f, axis=1, keepdims=True) + 1e-12
    order = np.random.default_rng(seed).permutation(len(f))
    classes = np.unique(labels)
    correct = 0
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        cents = np.stack([f[train][labels[train] == c].mean(axis=0) if (labels[train] == c).any()
                          else np.zeros(f.shape[1]) for c in classes])
        cents /= np.linalg.norm(cents, axis=1, keepdims=True) + 1e-12
        pred = classes[np.argmax(f[test] @ cents.T, axis=1)]
        correct += int((pred == labels[test]).sum())
    return correct / len(f)


def choose_strategy(final: np.ndarray, early: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Return the chosen strategy and the numbers behind it."""
    n_classes = len(np.unique(labels))
    per_class = len(labels) / n_classes
    acc_final = centroid_accuracy(final, labels)
    acc_early = centroid_accuracy(early, labels)
    large = per_class >= LARGE_PER_CLASS
    similar = acc_final >= acc_early - SIMILARITY_MARGIN
    strategy = {(False, True): "feature_extraction", (False, False): "feature_extraction_early",
                (True, True): "fine_tune", (True, False): "fine_tune_all"}[(large, similar)]
    return {
        "strategy": strategy,
        "train_images_per_class": round(per_class, 1),
        "large_data": large,
        "large_threshold_per_class": LARGE_PER_CLASS,
        "centroid_acc_final_features": round(acc_final, 4),
        "centroid_acc_early_features": round(acc_early, 4),
        "chance": round(1 / n_classes, 4),
        "similar_to_imagenet": similar,
        "rule": f"large = images/class >= {LARGE_PER_CLASS}; similar = final-feature accuracy >= early-feature "
                f"accuracy - {SIMILARITY_MARGIN}",
    }
