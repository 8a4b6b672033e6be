"""Post-conditions of an exported artifact: it loads in its runtime and behaves like the Keras model."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..targets import Target
from ..targets import get as get_target

MIN_FLOAT_AGREEMENT = 0.999


def run_artifact(clf: Any, pixels: np.ndarray) -> np.ndarray:
    return np.stack([clf.scores(p) for p in pixels])


def compare(target: Target | str, scores: np.ndarray, reference: np.ndarray, labels: np.ndarray, *,
            budget_points: float) -> dict[str, Any]:
    """Top-1 agreement, score differences and accuracy against the Keras reference; sets ``status``."""
    pred, ref_pred = scores.argmax(1), reference.argmax(1)
    diff = np.abs(scores - reference)
    acc, ref_acc = float((pred == labels).mean()), float((ref_pred == labels).mean())
    out: dict[str, Any] = {
        "images": int(len(labels)), "top1_agreement": float((pred == ref_pred).mean()),
        "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
        "accuracy": acc, "keras_accuracy": ref_acc, "accuracy_drop_points": round(100 * (ref_acc - acc), 3),
        "status": "ok", "reason": "",
    }
    t = get_target(target) if isinstance(target, str) else target
    if t.is_float_reference:
        if out["top1_agreement"] < MIN_FLOAT_AGREEMENT:
            out["status"] = "failed"
            out["reason"] = (f"float artifact agrees with Keras on {out['top1_agreement']:.2%} of images; at least "
                             f"{MIN_FLOAT_AGREEMENT:.1%} is required")
    elif out["accuracy_drop_points"] > budget_points:
        out["status"] = "flagged"
        out["reason"] = (f"accuracy {acc:.4f} is {out['accuracy_drop_points']:.2f} points below the float model "
                         f"({ref_acc:.4f}); the budget is {budget_points:g} points. Try more calibration images, "
                         "per-channel quantization, or a float16 / dynamic-range artifact.")
    return out
