"""Post-conditions of an exported artifact: it loads in its runtime and behaves like the Keras model."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..targets import Target
from ..targets import get as get_target

MIN_FLOAT_AGREEMENT = 0.999


def run_artifact(clf: Any, pixels: np.ndarray, step: str | None = None) -> np.ndarray:
    """The artifact's scores on each input; ``step`` names the loop for the terminal's progress counter."""
    from ..progress import track

    return np.stack([clf.scores(p) for p in (track(pixels, step) if step else pixels)])


# One status vocabulary for every output (summary, export table and reports, edgetl artifacts):
OK, UNCERTAIN, OVER_BUDGET, FAILED = "ok", "uncertain", "over budget", "failed"
PASSING = (OK, UNCERTAIN)  # uncertain: over the budget, but within noise of it on the images verified


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
    else:
        lo, hi = paired_drop_ci(pred == labels, ref_pred == labels)
        out["accuracy_drop_ci95_points"] = [round(lo, 3), round(hi, 3)]
        drop = out["accuracy_drop_points"]
        if drop > budget_points and lo > budget_points:
            out["status"] = OVER_BUDGET
            out["reason"] = (f"accuracy {acc:.4f} is {drop:.2f} points below the float model ({ref_acc:.4f}), "
                             f"95% interval {lo:.2f}..{hi:.2f} points (paired, {len(labels)} images): over the "
                             f"budget of {budget_points:g} points beyond noise. Try more calibration images, "
                             "per-channel quantization, or a float16 / dynamic-range artifact.")
        elif drop > budget_points:
            out["status"] = UNCERTAIN
            out["reason"] = (f"uncertain: the drop of {drop:.2f} points is over the budget of {budget_points:g}, but "
                             f"its 95% interval {lo:.2f}..{hi:.2f} (paired, {len(labels)} images) includes the "
                             "budget; verify on more images (export.verify_images=0 uses the whole split)")
    return out


def paired_drop_ci(artifact_right: np.ndarray, keras_right: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """95% interval of the accuracy drop in points, from the paired disagreements (McNemar's b and c).

    b: images Keras gets right and the artifact wrong; c: the reverse. Drop = (b - c) / n; the standard
    error of a paired difference of proportions is sqrt(b + c - (b - c)^2 / n) / n. With one discordant
    image among 40 the interval is wide, so one image alone never flags a model.
    """
    n = max(len(keras_right), 1)
    b = int(np.sum(keras_right & ~artifact_right))
    c = int(np.sum(~keras_right & artifact_right))
    d = (b - c) / n
    se = np.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    if b + c > 0:
        se = max(se, 1.0 / n)  # never narrower than one image
    return 100 * (d - z * se), 100 * (d + z * se)
