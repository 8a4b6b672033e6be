"""Edge TPU latency: a fixed cost per inference, a compute term, and the parameters that do not fit the chip's
on-chip cache, streamed over its interface on every run.

    ms = t0 + a * GMACs + b[interface] * max(0, parameter MB - cache MB)

``t0`` (invoke and transfer of input and output), ``a`` (ms per GMAC on the TPU) and ``b`` (ms per streamed MB,
apart for USB and PCIe boards) are fitted on Coral's published figures by non-negative least squares on relative
errors. Ops the compiler leaves on the CPU are estimated apart, with the CPU cost model, by the caller.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

CACHE_MB = 8.0
NAMES = ("t0_ms", "ms_per_gmac", "ms_per_streamed_mb_usb", "ms_per_streamed_mb_pcie")


def interface(hw: dict[str, Any]) -> str:
    return "usb" if "usb" in str(hw.get("interface", "")).lower() else "pcie"


def _features(facts: dict[str, Any], hw: dict[str, Any]) -> np.ndarray:
    cache = float(hw.get("on_chip_parameter_cache_mb", CACHE_MB))
    stream = max(0.0, float(facts["params_m"]) - cache)
    usb = interface(hw) == "usb"
    return np.array([1.0, facts["macs_m"] / 1e3, stream if usb else 0.0, 0.0 if usb else stream])


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """rows: anchors with ``model_facts`` (macs_m, params_m), ``hardware`` and ``latency_ms``."""
    if not rows:
        return {"t0_ms": 1.0, "ms_per_gmac": 1.0, "ms_per_streamed_mb_usb": 2.0, "ms_per_streamed_mb_pcie": 2.0,
                "rows": 0}
    x = np.array([_features(r["model_facts"], r["hardware"]) for r in rows])
    y = np.array([r["latency_ms"] for r in rows])
    a, b = x / y[:, None], np.ones(len(y))  # relative errors: each equation divided by its published value
    best = None
    for k in range(1, 5):  # non-negative least squares by enumerating the active set (4 unknowns)
        for cols in itertools.combinations(range(4), k):
            coef, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
            if (coef < 0).any():
                continue
            full = np.zeros(4)
            full[list(cols)] = coef
            err = float(np.sum((a @ full - b) ** 2))
            if best is None or err < best[0]:
                best = (err, full)
    coef = best[1] if best else np.array([1.0, 1.0, 2.0, 2.0])
    out = {n: round(float(v), 4) for n, v in zip(NAMES, coef)}
    for iface in ("usb", "pcie"):  # an interface without anchors streams like the other one
        key = f"ms_per_streamed_mb_{iface}"
        if not any(interface(r["hardware"]) == iface for r in rows):
            out[key] = out[f"ms_per_streamed_mb_{'pcie' if iface == 'usb' else 'usb'}"]
    return {**out, "rows": len(rows)}


def predict_ms(f: dict[str, float], facts: dict[str, Any], hw: dict[str, Any]) -> float:
    return float(_features(facts, hw) @ np.array([f[n] for n in NAMES]))
