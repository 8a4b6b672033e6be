"""Edge TPU latency: a fixed cost, a cost per layer, and the larger of computing and streaming the parameters
that do not fit the chip's on-chip cache over its link (the two overlap: the TPU computes while weights arrive).

    ms = t0 + c * ops + ((a * GMACs)^3 + (b[link] * max(0, parameter MB - cache MB))^3)^(1/3) + host + io

``t0``, ``c`` (ms per layer), ``a`` (ms per GMAC) and ``b`` (ms per streamed MB, apart for USB 3 and PCIe boards)
are fitted on Coral's published figures (a desktop host over USB 3, the Dev Board over PCIe), robustly on log
errors. The form was chosen among four (``benchmarks/estimator_cv.py`` records each one's leave-one-model-out
error): a sum of compute and streaming, the same with a cost per layer, the plain maximum, and this smooth one.
Two terms are priors, not fits (no anchor has them), and widen the printed range:

- **USB 2** (``link: usb2``): streamed parameters cost the USB 3 fit times the ratio of the links' effective bulk
  bandwidths, and the input and output cross the slower link on every run (``io``);
- **the host** behind a USB link (``host``): the host's USB and driver work per inference, HOST_REF_MS on the
  desktop x86 core of Coral's USB figures, stretched on a slower core (a Raspberry Pi's) by the ratio of
  single-core speeds.

Ops the compiler leaves on the CPU are estimated apart, with the CPU cost model, by the caller.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..hardware import link_of

CACHE_MB = 8.0
NAMES = ("t0_ms", "ms_per_gmac", "ms_per_op", "ms_per_streamed_mb_usb", "ms_per_streamed_mb_pcie")
POWER = 3.0  # the smooth maximum of computing and streaming
# effective bulk-transfer rates, MB/s: USB 2.0 high speed (480 Mbit/s signalling) and USB 3.0 (5 Gbit/s) as
# libusb bulk transfers reach them in practice, about 35 and 320 MB/s
LINK_MB_S = {"usb2": 35.0, "usb3": 320.0}
# the host's work per inference over USB on the desktop of Coral's figures, and a core's single-thread speed per
# GHz relative to that desktop x86 core (an out-of-order Cortex-A7x about 0.6 of it, an in-order A53/A55 0.35-0.4)
HOST_REF_MS, REF_HOST_GHZ = 0.5, 3.0
CORE_SPEED = {"cortex-a53": 0.35, "cortex-a55": 0.4, "cortex-a7": 0.25}
BIG_CORE_SPEED = 0.6


def interface(hw: dict[str, Any]) -> str:
    """usb or pcie: which fitted streaming cost applies (USB 2 and USB 3 share the USB fit; on-board is PCIe)."""
    return "usb" if link_of(hw).startswith("usb") else "pcie"


def host_factor(hw: dict[str, Any]) -> float:
    """How much longer the host part of t0 takes behind a USB link than on the desktop of Coral's figures (1: a
    PCIe or on-board TPU, whose anchor already ran on its own board's host, or a host not described)."""
    host = hw.get("host") if isinstance(hw.get("host"), dict) else {}
    if interface(hw) != "usb" or not host.get("clock_ghz"):
        return 1.0
    core = str(host.get("core") or "").lower()
    speed = float(host["clock_ghz"]) * CORE_SPEED.get(core, BIG_CORE_SPEED)
    return min(max(REF_HOST_GHZ / speed, 1.0), 8.0) if core else 1.0


def priors(hw: dict[str, Any]) -> list[str]:
    """Which unfitted terms an estimate for ``hw`` uses (they widen its range)."""
    out = []
    if link_of(hw) == "usb2":
        out.append("USB 2 link (scaled from the USB 3 fit by bandwidth)")
    if host_factor(hw) > 1.0:
        out.append(f"host {hw['host'].get('core', '?')} at {hw['host'].get('clock_ghz')} GHz "
                   f"(its USB work per inference x{host_factor(hw):.1f} the desktop's)")
    return out


def _terms(facts: dict[str, Any], hw: dict[str, Any]) -> tuple[float, float, float, bool]:
    """GMACs, layers, streamed MB (in USB 3 terms over USB 2) and whether the link is USB."""
    cache = float(hw.get("on_chip_parameter_cache_mb", CACHE_MB))
    stream = max(0.0, float(facts["params_m"]) - cache)
    if link_of(hw) == "usb2":
        stream *= LINK_MB_S["usb3"] / LINK_MB_S["usb2"]
    return float(facts["macs_m"]) / 1e3, float(facts.get("ops", 0)), stream, interface(hw) == "usb"


def _ms(f: dict[str, float], g: float, ops: float, stream: float, usb: bool) -> float:
    b = f["ms_per_streamed_mb_usb"] if usb else f["ms_per_streamed_mb_pcie"]
    both = ((f["ms_per_gmac"] * g) ** POWER + (b * stream) ** POWER) ** (1 / POWER)
    return f["t0_ms"] + f.get("ms_per_op", 0.0) * ops + both


def io_ms(facts: dict[str, Any], hw: dict[str, Any]) -> float:
    """The extra time of moving one input and output over USB 2 rather than USB 3 (t0 holds the USB 3 time)."""
    if link_of(hw) != "usb2":
        return 0.0
    mb = float(facts.get("io_bytes", 224 * 224 * 3 + 1000)) / 1e6
    return 1e3 * mb * (1 / LINK_MB_S["usb2"] - 1 / LINK_MB_S["usb3"])


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """rows: anchors with ``model_facts`` (macs_m, params_m, ops), ``hardware`` and ``latency_ms``."""
    from .cost import _levenberg_marquardt

    if not rows:
        return {"t0_ms": 1.0, "ms_per_gmac": 4.0, "ms_per_op": 0.01, "ms_per_streamed_mb_usb": 2.0,
                "ms_per_streamed_mb_pcie": 2.0, "rows": 0}
    terms = [_terms(r["model_facts"], r["hardware"]) for r in rows]
    y = np.log([r["latency_ms"] for r in rows])
    usb_seen = any(t[3] for t in terms)
    pcie_seen = any(not t[3] for t in terms)
    best = None
    for start in ([-1.0, 1.5, -3.0, 0.5, 0.5], [0.5, 0.5, -5.0, -1.0, -1.0], [-1.0, 1.5, -5.0, 0.5, -1.0]):
        x0 = np.array(start)

        def residuals(th: np.ndarray) -> np.ndarray:
            f = dict(zip(NAMES, np.exp(th)))
            pred = np.log([_ms(f, *t) for t in terms])
            return np.concatenate([pred - y, 0.05 * (th - x0)])  # a weak pull to the start: 18 rows, 5 unknowns

        x = _levenberg_marquardt(residuals, x0, n_data=len(rows), f_scale=1.0)
        cost = float(np.sum(residuals(x)[:len(rows)] ** 2))
        if best is None or cost < best[0]:
            best = (cost, x)
    out = {n: round(float(v), 4) for n, v in zip(NAMES, np.exp(best[1]))}
    if not usb_seen:  # a link without anchors streams like the other one
        out["ms_per_streamed_mb_usb"] = out["ms_per_streamed_mb_pcie"]
    if not pcie_seen:
        out["ms_per_streamed_mb_pcie"] = out["ms_per_streamed_mb_usb"]
    return {**out, "rows": len(rows)}


def predict_ms(f: dict[str, float], facts: dict[str, Any], hw: dict[str, Any]) -> float:
    host = HOST_REF_MS * (host_factor(hw) - 1.0)  # 0 for the hosts of the anchors
    return _ms(f, *_terms(facts, hw)) + host + io_ms(facts, hw)
