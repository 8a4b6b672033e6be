"""Latency estimates for devices edgetl cannot reach, calibrated on published measurements.

Model (per anchor a, in milliseconds):

    latency = MACs / (G[group] * E[family] * P[precision] * threads**alpha) + S * max(0, params_MB - 8)

- ``group`` is a (device, runtime) pair from the anchors (``rpi4/tflite-xnnpack``); ``G`` is its effective
  single-thread throughput in GMAC/s, the geometric mean over its anchors. A group without anchors (a new
  board) gets its per-core peak times the median efficiency (G / peak) of groups of the same kind.
- ``E`` lets dense convolutions (ResNet, VGG, Inception) run faster per MAC than depthwise ones (MobileNet,
  EfficientNet); ``P`` is the int8 speed-up on CPUs; ``alpha`` is thread scaling. These three are fitted on
  all anchors by grid search (least squares in log space).
- ``S`` is the Edge TPU's cost per MB of parameters beyond its ~8 MB on-chip cache (streamed each inference).

Estimates are reported as ranges using the leave-one-out error on the anchors (``benchmarks/estimator_loo.py``).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Published multiply-accumulate counts (M) and parameters (M) of the anchor models at their input size.
MODELS = {  # name: (MMACs at 224 unless noted, Mparams, family, source)
    ("mobilenet_v2", "1.0", 224): (300.0, 3.5, "depthwise", "Sandler et al. 2018, Table 6"),
    ("mobilenet_v2", "0.35", 224): (59.0, 1.7, "depthwise", "Sandler et al. 2018, Figure 5 / TF-slim table"),
    ("mobilenet_v1", "1.0", 224): (569.0, 4.2, "depthwise", "Howard et al. 2017, Table 8"),
    ("mobilenet_v3_large", "1.0", 224): (219.0, 5.4, "depthwise", "Howard et al. 2019, Table 3"),
    ("mobilenet_v3_small", "1.0", 224): (56.0, 2.5, "depthwise", "Howard et al. 2019, Table 4"),
    ("efficientnet_b0", "", 224): (390.0, 5.3, "depthwise", "Tan and Le 2019, Table 2"),
    ("efficientnet_lite0", "", 224): (407.0, 4.7, "depthwise", "tensorflow/tpu EfficientNet-Lite README"),
    ("inception_v3", "", 299): (5713.0, 23.8, "dense", "Szegedy et al. 2016, Table 3"),
    ("inception_v1", "", 224): (1500.0, 6.6, "dense", "Szegedy et al. 2015, Section 5"),
    ("resnet50", "", 224): (4100.0, 25.6, "dense", "He et al. 2016, Table 1 (3.8-4.1 GMACs)"),
    ("resnet50", "", 299): (7306.0, 25.6, "dense", "resnet50 at 224 scaled by (299/224)^2"),
    ("vgg16", "", 224): (15500.0, 138.0, "dense", "Simonyan and Zisserman 2015"),
}
# Per-core (or per-accelerator) peak GMAC/s and kind of each anchor device, from public specifications.
DEVICES = {
    "pixel1": (8.6, "cpu"), "pixel3": (22.4, "cpu"), "pixel4": (19.4, "cpu"), "rpi4": (12.0, "cpu"),
    "rpi5": (19.2, "cpu"), "rpi-zero2w": (2.0, "cpu"), "x86-zen3-5700g": (73.6, "cpu"), "x86-xeon-8573c": (96.0, "cpu"),
    "coral-usb": (2000.0, "edgetpu"), "coral-devboard": (2000.0, "edgetpu"), "pixel3-gpu": (363.0, "gpu"),
    "jetson-nano": (118.0, "gpu"), "jetson-orin-nano": (640.0, "gpu"),
}
# Which anchor group a built-in profile belongs to (None: no anchors; estimated from its peak).
PROFILE_GROUPS = {"rpi4": "rpi4/tflite-xnnpack", "rpi5": "rpi5/tflite-xnnpack", "rpi-zero2w": "rpi-zero2w/tflite-xnnpack",
                  "pixel4": "pixel4/tflite-cpu", "coral-usb": "coral-usb/edgetpu",
                  "coral-devboard": "coral-devboard/edgetpu", "jetson-nano": "jetson-nano/gpu",
                  "jetson-orin-nano": "jetson-orin-nano/gpu"}
CACHE_MB = 8.0


@dataclass(frozen=True)
class Anchor:
    id: str
    model: str
    macs_m: float
    params_m: float
    family: str
    precision: str
    group: str
    device: str
    kind: str
    threads: int
    latency_ms: float
    source: str


def load_anchors(path: str | Path) -> list[Anchor]:
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["model"], row["alpha"], int(row["input_px"]))
            if key not in MODELS:
                raise ValueError(f"{path}: anchor {row['id']} model {key} has no MAC count in MODELS")
            macs, params, family, _ = MODELS[key]
            runtime = row["runtime"]
            device = row["device"] + ("-gpu" if runtime == "tflite-gpu" else "")
            kind = "edgetpu" if runtime == "edgetpu" else ("gpu" if runtime == "tflite-gpu" else "cpu")
            out.append(Anchor(row["id"], row["model"], macs, params, family, row["precision"],
                              f"{row['device']}/{runtime}", device, kind, int(row["threads"] or 1),
                              float(row["latency_ms"]), row["source"]))
    return out


@dataclass
class Fit:
    e_dense: float
    p_int8: float
    alpha: float
    s_ms_per_mb: float
    groups: dict[str, float]  # log G
    efficiency: dict[str, float]  # kind -> median log(G/peak)


def _factor(a: Anchor | dict, e: float, p: float, alpha: float) -> float:
    g = a if isinstance(a, dict) else a.__dict__
    f = (e if g["family"] == "dense" else 1.0) * (p if g["precision"] == "int8" and g["kind"] == "cpu" else 1.0)
    return f * (g["threads"] ** alpha if g["kind"] == "cpu" else 1.0)


def _streaming(a: Anchor) -> float:
    return max(0.0, a.params_m - CACHE_MB) if a.kind == "edgetpu" else 0.0


def fit(anchors: list[Anchor]) -> Fit:
    best = None
    compute = [a for a in anchors if _streaming(a) == 0]
    for e in np.linspace(1.0, 4.0, 13):
        for p in np.linspace(1.0, 3.0, 11):
            for alpha in np.linspace(0.3, 1.0, 8):
                ys: dict[str, list[float]] = {}
                for a in compute:
                    ys.setdefault(a.group, []).append(math.log(a.macs_m / 1e3 / (a.latency_ms / 1e3)) -
                                                      math.log(_factor(a, e, p, alpha)))
                groups = {g: float(np.mean(v)) for g, v in ys.items()}
                sse = sum((math.log(a.macs_m / 1e3 / (a.latency_ms / 1e3)) - math.log(_factor(a, e, p, alpha))
                           - groups[a.group]) ** 2 for a in compute)
                if best is None or sse < best[0]:
                    best = (sse, e, p, alpha, groups)
    assert best is not None
    _, e, p, alpha, groups = best
    eff: dict[str, list[float]] = {}
    for g, lg in groups.items():
        dev = next(a.device for a in anchors if a.group == g)
        if dev in DEVICES:
            eff.setdefault(DEVICES[dev][1], []).append(lg - math.log(DEVICES[dev][0]))
    efficiency = {k: float(np.median(v)) for k, v in eff.items()}
    f = Fit(e, p, alpha, 0.0, groups, efficiency)
    stream = [a for a in anchors if _streaming(a) > 0]
    if stream:
        rest = [(a.latency_ms - _compute_ms(f, a.__dict__, a.group, a.device), _streaming(a)) for a in stream]
        f.s_ms_per_mb = max(0.0, sum(r * m for r, m in rest) / sum(m * m for _, m in rest))
    return f


def _log_g(f: Fit, group: str, device: str) -> float:
    if group in f.groups:
        return f.groups[group]
    peak, kind = DEVICES.get(device, (None, "cpu"))
    if peak is None:
        raise KeyError(f"no anchors and no peak figure for device {device!r}")
    return math.log(peak) + f.efficiency.get(kind, float(np.median(list(f.efficiency.values()))))


def _compute_ms(f: Fit, a: dict, group: str, device: str) -> float:
    g = math.exp(_log_g(f, group, device))
    return a["macs_m"] / 1e3 / (g * _factor(a, f.e_dense, f.p_int8, f.alpha)) * 1e3


def predict_ms(f: Fit, *, macs_m: float, params_m: float, family: str, precision: str, group: str, device: str,
               kind: str, threads: int) -> float:
    a = {"macs_m": macs_m, "family": family, "precision": precision, "kind": kind, "threads": threads}
    stream = max(0.0, params_m - CACHE_MB) if kind == "edgetpu" else 0.0
    return _compute_ms(f, a, group, device) + f.s_ms_per_mb * stream


def leave_one_out(anchors: list[Anchor]) -> list[dict[str, Any]]:
    rows = []
    for i, a in enumerate(anchors):
        f = fit(anchors[:i] + anchors[i + 1:])
        try:
            pred = predict_ms(f, macs_m=a.macs_m, params_m=a.params_m, family=a.family, precision=a.precision,
                              group=a.group, device=a.device, kind=a.kind, threads=a.threads)
        except KeyError:
            pred = float("nan")
        rows.append({"id": a.id, "model": a.model, "precision": a.precision, "group": a.group, "threads": a.threads,
                     "published_ms": a.latency_ms, "predicted_ms": round(pred, 2),
                     "ape": abs(pred - a.latency_ms) / a.latency_ms, "group_had_other_anchors":
                     any(b.group == a.group for j, b in enumerate(anchors) if j != i)})
    return rows
