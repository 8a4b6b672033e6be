"""Classification metrics in numpy: top-1, top-5, per-class precision/recall/F1, confusion matrix."""
from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    n = len(classes)
    pred = probs.argmax(axis=1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    out: dict[str, Any] = {"images": int(len(labels)), "top1": float((pred == labels).mean())}
    if n >= 5:
        top5 = np.argsort(-probs, axis=1)[:, :5]
        out["top5"] = float((top5 == labels[:, None]).any(axis=1).mean())
    per_class = {}
    for i, c in enumerate(classes):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {"precision": round(float(prec), 4), "recall": round(float(rec), 4),
                        "f1": round(float(f1), 4), "support": int(cm[i, :].sum())}
    out["per_class"] = per_class
    out["confusion_matrix"] = {"classes": classes, "rows_true_cols_pred": cm.tolist()}
    return out
