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
    for i in range(max(warmup_runs, 0) * 3):
        t = time.perf_counter_ns()
        fn()
        warm.append((time.perf_counter_ns() - t) / 1e6)
        if i + 1 >= warmup_runs and len(warm) >= 10:
            a, b = np.median(warm[-10:-5]), np.median(warm[-5:])
            if abs(b - a) <= steady_tolerance * a:
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
    arr = np.asarray(lat)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    p50, p90, p99 = (float(x) for x in np.percentile(arr, [50, 90, 99]))
    res = TimingResult(runs=len(arr), warmup_runs=len(warm), p50_ms=p50, p90_ms=p90, p99_ms=p99,
                       mean_ms=float(arr.mean()), std_ms=std, ci95_ms=1.96 * std / math.sqrt(len(arr)),
                       min_ms=float(arr.min()), max_ms=float(arr.max()),
                       throughput_ips=1000.0 / float(arr.mean()), elapsed_s=time.perf_counter() - start)
    return res, arr
