"""The timing loop (numpy only): warm-up until steady, then timed runs bounded by count and time."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class TimingResult:
    runs: int
    warmup_runs: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    ci95_ms: float  # half-width of the 95% confidence interval of the mean
    min_ms: float
    max_ms: float
    throughput_ips: float
    elapsed_s: float
    steady: bool = True  # the warm-up settled (medians of the last two fives within the tolerance)

    def to_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def measure(fn: Callable[[], object], *, warmup_runs: int = 10, min_runs: int = 30, max_runs: int = 1000,
            min_time_s: float = 2.0, max_time_s: float = 20.0, steady_tolerance: float = 0.05
            ) -> tuple[TimingResult, np.ndarray]:
    """Time ``fn``; returns the summary and every timed latency in milliseconds.

    Warm-up runs ``warmup_runs`` calls, then continues (up to 3x as many) until the median of the last
    five calls is within ``steady_tolerance`` of the five before. Timed runs stop once both ``min_runs``
    and ``min_time_s`` are reached, or at ``max_runs`` / ``max_time_s``, whichever comes first.
    """
    warm: list[float] = []
    steady = 3 * max(warmup_runs, 0) < 10  # too short a warm-up to judge: not marked
    for i in range(max(warmup_runs, 0) * 3):
        t = time.perf_counter_ns()
        fn()
        warm.append((time.perf_counter_ns() - t) / 1e6)
        if i + 1 >= warmup_runs and len(warm) >= 10:
            a, b = np.median(warm[-10:-5]), np.median(warm[-5:])
            if abs(b - a) <= steady_tolerance * a:
                steady = True
                break
    lat: list[float] = []
    start = time.perf_counter()
    while True:
        t = time.perf_counter_ns()
        fn()
        lat.append((time.perf_counter_ns() - t) / 1e6)
        elapsed = time.perf_counter() - start
        if len(lat) >= max_runs or elapsed >= max_time_s:
            break
        if len(lat) >= min_runs and elapsed >= min_time_s:
            break
    return summarize(lat, len(warm), time.perf_counter() - start, steady=steady), np.asarray(lat)


def summarize(lat: list[float] | np.ndarray, warmup_runs: int, elapsed_s: float, *, steady: bool = True
              ) -> TimingResult:
    arr = np.asarray(lat, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    p50, p90, p99 = (float(x) for x in np.percentile(arr, [50, 90, 99]))
    return TimingResult(runs=len(arr), warmup_runs=warmup_runs, p50_ms=p50, p90_ms=p90, p99_ms=p99,
                        mean_ms=float(arr.mean()), std_ms=std, ci95_ms=1.96 * std / math.sqrt(len(arr)),
                        min_ms=float(arr.min()), max_ms=float(arr.max()), throughput_ips=1000.0 / float(arr.mean()),
                        elapsed_s=elapsed_s, steady=steady)


def sustained(fn: Callable[[], object], seconds: float, *, window_s: float | None = None
              ) -> tuple[TimingResult, np.ndarray, list[dict[str, float]]]:
    """Run ``fn`` back to back for ``seconds`` and report each window's median: drift shows throttling.

    The windows (``window_s``, default a sixth of the run, at most 60 s) carry ``t_s`` (end time), ``p50_ms``
    and ``runs``; the first and last window give the drift in the row.
    """
    from .noise import _clock_mhz

    win = window_s or min(max(seconds / 6.0, 1.0), 60.0)
    lat: list[float] = []
    windows: list[dict[str, float]] = []
    start = time.perf_counter()
    w_start, w_lat = start, []
    while True:
        t = time.perf_counter_ns()
        fn()
        d = (time.perf_counter_ns() - t) / 1e6
        lat.append(d)
        w_lat.append(d)
        now = time.perf_counter()
        if now - w_start >= win or now - start >= seconds:
            windows.append({"t_s": round(now - start, 2), "p50_ms": round(float(np.median(w_lat)), 4),
                            "runs": len(w_lat), "clock_mhz": _clock_mhz()})
            w_start, w_lat = now, []
        if now - start >= seconds:
            break
    return summarize(lat, 0, time.perf_counter() - start), np.asarray(lat), windows
