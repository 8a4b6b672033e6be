"""Edge TPU latency: a compute term and the parameters that do not fit its on-chip cache, streamed every run.

    ms = a * GMACs + b * max(0, parameter MB - cache MB)

``a`` (ms per GMAC on the TPU) and ``b`` (ms per streamed MB: USB or PCIe transfer) are fitted on the published
Edge TPU anchors by non-negative least squares on relative errors. Ops the compiler leaves on the CPU are
estimated apart, with the CPU cost model, by the caller.
"""
from __future__ import annotations

from typing import Any

import numpy as np

CACHE_MB = 8.0


def _features(facts: dict[str, Any], hw: dict[str, Any]) -> tuple[float, float]:
    cache = float(hw.get("on_chip_parameter_cache_mb", CACHE_MB))
    return facts["macs_m"] / 1e3, max(0.0, float(facts["params_m"]) - cache)


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """rows: anchors with ``model_facts`` (macs_m, params_m), ``hardware`` and ``latency_ms``."""
    if not rows:
        return {"ms_per_gmac": 1.0, "ms_per_streamed_mb": 2.0, "rows": 0}
    x = np.array([_features(r["model_facts"], r["hardware"]) for r in rows])
    y = np.array([r["latency_ms"] for r in rows])
    a = x / y[:, None]  # relative errors: divide each equation by its published value
    b = np.ones(len(y))
    best = None
    for cols in ([0, 1], [0], [1]):
        coef, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
        if (coef < 0).any():
            continue
        full = np.zeros(2)
        full[cols] = coef
        err = float(np.sum((a @ full - b) ** 2))
        if best is None or err < best[0]:
            best = (err, full)
    coef = best[1] if best else np.array([1.0, 2.0])
    return {"ms_per_gmac": round(float(coef[0]), 4), "ms_per_streamed_mb": round(float(coef[1]), 4), "rows": len(rows)}


def predict_ms(f: dict[str, float], facts: dict[str, Any], hw: dict[str, Any]) -> float:
    g, mb = _features(facts, hw)
    return f["ms_per_gmac"] * g + f["ms_per_streamed_mb"] * mb
