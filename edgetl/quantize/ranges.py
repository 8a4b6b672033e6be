"""Activation-range audit: do held-back inputs leave the ranges the int8 model was calibrated on?

Calibration fixes each activation tensor's int8 range from the calibration images. Inputs that were not among
them (validation images here) can produce values outside that range; they are clipped to the range's end,
which is an error the calibration set never showed. The audit runs the quantized artifact in its own runtime on
the calibration inputs and on held-back inputs and counts, per activation tensor, the share of values at the
ends of the int8 range (TFLite: the stored int8 value is -128 or 127; ONNX QDQ: the float value entering a
QuantizeLinear lies beyond its range). A tensor whose held-back share is clearly above its calibration share
has a range that is too narrow for data like the held-back set.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..progress import track

CLIP_RATIO = 2.0   # held-back share of values at the range's ends, over the calibration share, to be named
CLIP_FLOOR = 1e-3  # and at least this share of the held-back values (0.1%): rarer clipping is noise


def summarize(calib: dict[str, float], held: dict[str, float], n_calib: int, n_held: int,
              calibration_total: int | None = None) -> dict[str, Any]:
    """Per-tensor clip shares on both sets -> the tensors whose range held-back data exceeds, worst first.
    ``calibration_total``: how many calibration inputs set the ranges (the audit reads ``n_calib`` of them)."""
    rows = []
    for name, h in held.items():
        c = calib.get(name, 0.0)
        if h >= CLIP_FLOOR and h > CLIP_RATIO * c:
            rows.append({"tensor": name, "heldback_clipped": round(h, 5), "calibration_clipped": round(c, 5)})
    rows.sort(key=lambda r: -r["heldback_clipped"])
    warnings = []
    if rows:
        worst = rows[0]
        of = f"{n_calib} of the {calibration_total}" if calibration_total and calibration_total > n_calib \
            else f"the {n_calib}"
        warnings.append(f"{len(rows)} activation tensor(s) clip more on {n_held} held-back images than on {of} "
                        f"calibration images (worst: {worst['tensor'][:80]}, {100 * worst['heldback_clipped']:.2f}% "
                        f"of values vs {100 * worst['calibration_clipped']:.2f}%): the calibration set does not "
                        "cover the data; raise export.calibration_images or make it more varied")
    return {"tensors_checked": len(held), "calibration_inputs": n_calib, "heldback_inputs": n_held,
            "calibration_total": calibration_total or n_calib,
            "split": "calibration (train) vs held-back (validation)", "exceeded": rows[:20],
            "tensors_exceeded": len(rows), "warnings": warnings}


def _shares(run: Callable[[np.ndarray], dict[str, tuple[int, int]]], inputs: np.ndarray) -> dict[str, float]:
    clipped: dict[str, int] = {}
    total: dict[str, int] = {}
    for x in track(inputs, "range audit"):
        for name, (k, n) in run(x).items():
            clipped[name] = clipped.get(name, 0) + k
            total[name] = total.get(name, 0) + n
    return {name: clipped[name] / total[name] for name in total if total[name]}


# ---------------------------------------------------------------- TFLite


# ---------------------------------------------------------------- ONNX (QDQ)

