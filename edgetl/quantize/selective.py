"""Per-layer quantization sensitivity and selective quantization: keep the layers that break in float.

Sensitivity is measured in the target's own runtime (``edgetl/formats/<format>/sensitivity.py``):

- TFLite: TensorFlow's QuantizationDebugger runs the int8 model with numeric-verify ops on held-back images
  and reports, per quantized tensor, the error it adds; edgetl ranks layers by RMSE in units of that
  tensor's quantization step (``rmse / scale``), the debugger tutorial's measure.
- ONNX: ONNX Runtime's QDQ debugging module runs the float and the QDQ model on the same images and gives
  each tensor's signal-to-quantization-noise ratio; lower SQNR = more sensitive.

Selective quantization (:func:`search`) then re-quantizes with the top-k most sensitive layers in float
(k = 1, 2, 4, ...; each candidate's int8 weights re-rounded by ``rounding.py``, as the plain artifact's are),
re-verifies each candidate on the validation images in the runtime, and stops at the first that is within the
accuracy budget and measurably closer to the float model than the plain artifact (:func:`closer_z`), or when a
candidate, timed beside the plain int8 artifact, would be slower than ``max_slowdown`` x that artifact (or than
the float one). It then bisects between that k and the one before it (``BISECTION_STEPS``), for the fewest float
layers that are taken, or a count under the latency limit when the doubling overshot it. Numbers for the report are taken on the test split by the caller; every choice here uses the
validation split only.

Why "measurably closer": at a budget of 0.5 points, a validation split of 500-600 photos separates a candidate
that meets the budget from one that misses it by one or two photos. Picking on such counts picks noise (the
EfficientNet-Lite0 1e-4 onnx:int8 row of ``benchmarks/results/selective_stage7-8.json``: the variant kept for
one validation photo fewer changed two more test answers). Each photo's divergence from the float model's probabilities (KL) is a far
less noisy measure of closeness; a candidate replaces the plain artifact only when its per-photo divergences
are lower by at least ``MIN_Z`` standard errors (a paired test on the same photos).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


log = logging.getLogger(__name__)

MIN_Z = 2.0  # standard errors by which a candidate's mean per-photo KL must undercut the plain artifact's
KL_FLOOR = 1e-4  # probabilities are clipped here before the KL: a 0 in int8 output is "below one step"
BISECTION_STEPS = 3  # candidates tried between the doubling's last two k (k = 8 and 16: 12, then 10 or 14, ...)


def kl_per_image(ref: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """KL(float || candidate) of each image's class probabilities (rows), after clipping both at ``KL_FLOOR``."""
    p = np.clip(np.asarray(ref, np.float64), KL_FLOOR, 1.0)
    q = np.clip(np.asarray(probs, np.float64), KL_FLOOR, 1.0)
    p /= p.sum(1, keepdims=True)
    q /= q.sum(1, keepdims=True)
    return np.sum(p * np.log(p / q), axis=1)


def closer_z(base_kl: np.ndarray, cand_kl: np.ndarray) -> float:
    """How many standard errors the candidate's mean per-image KL lies below the plain artifact's, on the same
    images (paired): positive = closer to the float model. 0 when the two give the same outputs."""
    d = np.asarray(base_kl, np.float64) - np.asarray(cand_kl, np.float64)
    if len(d) < 2:
        return 0.0
    se = float(d.std(ddof=1)) / np.sqrt(len(d))
    if se == 0.0:
        return 0.0
    return float(d.mean() / se)


@dataclass
class Candidate:
    float_layers: list[str]
    data: bytes
    accuracy: float
    drop_points: float
    disagreement_points: float
    latency_ms: float
    latency_ratio: float = 1.0  # vs the plain int8 artifact timed beside it
    closer_z: float = 0.0  # standard errors closer to the float model than the plain artifact (closer_z)
    note: str = ""


@dataclass
class SearchResult:
    chosen: Candidate | None
    tried: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""


def _median_ms(run: Callable[[], Any], runs: int) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        run()
        ts.append((time.perf_counter_ns() - t) / 1e6)
    return float(np.median(ts))


def paired_latency_ms(run: Callable[[], Any], base: Callable[[], Any], *, runs: int = 40,
                      rounds: int = 4) -> tuple[float, float]:
    """(latency of ``run``, latency of ``base``), timed side by side in interleaved rounds (the order alternates),
    so that a machine that slows down or speeds up between rounds moves both: their ratio is what counts."""
    for _ in range(10):
        run()
        base()
    a, b = [], []
    for r in range(rounds):
        for fn, out in (((run, a), (base, b)) if r % 2 == 0 else ((base, b), (run, a))):
            out.append(_median_ms(fn, runs))
    return float(np.median(a)), float(np.median(b))


def confirmed_ratio(run: Callable[[], Any], base: Callable[[], Any], limit: float) -> tuple[float, float, list[float]]:
    """(latency of ``run``, of ``base``, every ratio timed): one paired timing, and when its ratio is over
    ``limit``, two more, the median of the three deciding. On a shared VM one paired timing of the same pair
    moved by a fifth between two benchmark runs (the MobileNetV2 1e-5 tflite:int8 row of
    ``benchmarks/results/selective.json`` at commits f98bf7f and a87b1b3, 2 float layers); a refusal for latency ends the search, so it
    is not made on one timing."""
    timed = [paired_latency_ms(run, base)]
    if timed[0][0] / timed[0][1] > limit:
        timed += [paired_latency_ms(run, base) for _ in range(2)]
    ratios = [a / b for a, b in timed]
    a, b = timed[int(np.argsort(ratios)[len(ratios) // 2])]
    return a, b, [round(r, 3) for r in ratios]


# ---------------------------------------------------------------- TFLite


# ---------------------------------------------------------------- ONNX


# ---------------------------------------------------------------- the search

def search(build: Callable[[list[str]], bytes],
           evaluate: Callable[[bytes], tuple[float, float, Callable[[], Any], np.ndarray]], *,
           ranked: list[str], float_accuracy: float, budget_points: float, plain_run: Callable[[], Any],
           plain_latency_ms: float, float_latency_ms: float | None, max_slowdown: float, plain_kl: np.ndarray,
           max_layers: int = 32, min_z: float = MIN_Z) -> SearchResult:
    """Keep the k most sensitive layers in float, k = 1, 2, 4, ..., until the model is within the budget, then
    bisect between the last two k for the smallest k taken.

    Within the budget means: the share of validation images where the artifact's top-1 differs from the float
    model's is at most ``budget_points`` %. That bounds the accuracy drop on any image set drawn like the
    validation one (a drop needs a disagreement), and it is far less noisy than the drop itself, which
    nets gains against losses: on flowers, a 0.18-point validation drop came with a 2.1-point test drop.

    Args:
        build: bytes of the model with the given layers in float.
        evaluate: (validation accuracy, top-1 agreement with the float model, a zero-argument call that runs
            the model once, each validation image's KL divergence from the float model) for model bytes.
        ranked: layer names, most sensitive first (duplicates are ignored).
        plain_run: one inference of the plain int8 artifact: each candidate is timed beside it, and the
            latency limit is on their ratio (``max_slowdown``, or the float model's ratio
            ``float_latency_ms / plain_latency_ms``, both timed together before the search, if lower).
        plain_kl: the plain int8 artifact's per-image KL on the same images; a candidate within the budget is
            taken only if it is at least ``min_z`` standard errors closer (:func:`closer_z`).
    """
    order = list(dict.fromkeys(l for l in ranked if l))
    limit = max_slowdown
    if float_latency_ms is not None:
        limit = min(limit, float_latency_ms / plain_latency_ms)
    at = _Attempts(build, evaluate, order, float_accuracy, budget_points, plain_run, plain_kl, limit, min_z,
                   f"{max_slowdown:g}x the plain int8 model" + (" or the float model's ratio"
                                                                if float_latency_ms is not None else ""))
    res, slow, attempt = at.res, at.slow, at.attempt

    # doubling until a candidate is taken or too slow, then bisection between the last k refused for its error
    # and that one: the smallest k that is taken (fewer float layers, faster), or one under the latency limit
    top = min(max_layers, len(order))
    lo, hi, k = 0, 0, 1
    while k <= top:
        if attempt(k, "doubling") != "no":
            hi = k
            break
        lo, k = k, 2 * k
    steps = 0
    while hi and hi - lo > 1 and steps < BISECTION_STEPS:
        mid = (lo + hi) // 2
        steps += 1
        if attempt(mid, "bisection") == "no":
            lo = mid
        else:
            hi = mid
    if res.chosen is None:
        res.reason = ("stopped: " + slow[min(slow)] if slow else
                      f"no candidate up to {top} float layers met the budget and was measurably closer")
    return res


class _Attempts:
    """The search's candidates: each one built, verified and timed beside the plain int8 artifact."""

    def __init__(self, build: Callable[[list[str]], bytes], evaluate: Callable[[bytes], Any], order: list[str],
                 float_accuracy: float, budget_points: float, plain_run: Callable[[], Any], plain_kl: np.ndarray,
                 limit: float, min_z: float, limit_text: str) -> None:
        self.build, self.evaluate, self.order = build, evaluate, order
        self.float_accuracy, self.budget_points, self.plain_run, self.plain_kl = (float_accuracy, budget_points,
                                                                                  plain_run, plain_kl)
        self.limit, self.min_z, self.limit_text = limit, min_z, limit_text
        self.res = SearchResult(None)
        self.slow: dict[int, str] = {}  # k -> why it was refused for its latency

    def attempt(self, k: int, step: str) -> str:
        """Build, verify and time the candidate with the top k layers in float: "ok" (taken if smallest),
        "slow" (over the latency limit) or "no" (outside the budget, not measurably closer, or refused)."""
        res, layers = self.res, self.order[:k]
        try:
            data = self.build(layers)
        except Exception as exc:  # noqa: BLE001 - a candidate the converter refuses is a row, not an abort
            res.tried.append({"float_layers": k, "step": step, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            return "no"
        acc, agree, run, kl = self.evaluate(data)
        z = closer_z(self.plain_kl, kl)
        lat, base, ratios = confirmed_ratio(run, self.plain_run, self.limit)
        ratio, drop, dis = lat / base, 100 * (self.float_accuracy - acc), 100 * (1 - agree)
        res.tried.append({"float_layers": k, "step": step, "layers": layers, "accuracy": round(acc, 4),
                          "drop_points": round(drop, 3), "disagreement_points": round(dis, 3),
                          "kl_mean_x1000": round(1000 * float(np.mean(kl)), 3), "closer_z": round(z, 2),
                          "latency_ms": round(lat, 4), "plain_latency_ms_beside": round(base, 4),
                          "latency_vs_int8": round(ratio, 3), "latency_ratios_timed": ratios})
        log.info("selective: %d float layer(s): accuracy %.4f (drop %.2f, disagreement %.2f, closer z %.2f), "
                 "%.3f ms (%.2fx int8)", k, acc, drop, dis, z, lat, ratio)
        if ratio > self.limit:
            self.slow[k] = (f"with {k} float layer(s) the model takes {lat:.2f} ms, {ratio:.2f}x the plain int8 "
                            f"model timed beside it ({base:.2f} ms), over the limit of {self.limit:.2f}x "
                            f"({self.limit_text})")
            return "slow"
        if dis > self.budget_points or drop > self.budget_points:
            return "no"
        if z < self.min_z:
            res.tried[-1]["note"] = (f"within the budget by count, but not measurably closer to the float model "
                                     f"(z {z:.2f} < {self.min_z:g})")
            return "no"
        if res.chosen is None or k < len(res.chosen.float_layers):
            res.chosen = Candidate(layers, data, acc, drop, dis, lat, ratio, closer_z=z)
            res.reason = (f"{k} layer(s) in float bring the validation disagreement with the float model "
                          f"to {dis:.2f}% (drop {drop:.2f} points), {z:.1f} standard errors closer to it")
        return "ok"
