"""How quiet and how fast the machine was while a row was timed (runs inside the worker, on the device).

Reads /proc/stat before and after: CPU time used by *other* processes (total busy time minus the worker's
own), CPU steal (a hypervisor giving the core to someone else), and the clock of the cores where readable.
A row timed while others used more than ``OTHER_MAX`` of the machine, or with steal above ``STEAL_MAX``, or
whose clock fell by more than ``CLOCK_DROP_MAX`` (a board heating up), is marked ``reliable: false`` with
the reason, instead of being printed as fact.
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")
OTHER_MAX = 0.10      # fraction of all cores used by other processes
STEAL_MAX = 0.02      # fraction of all cores stolen by the hypervisor
CLOCK_DROP_MAX = 0.10  # relative drop of the mean core clock
PROBE_DRIFT_MAX = 0.05  # relative change of the speed probe against the device's median during the bench


def _stat() -> tuple[float, float, float] | None:
    """(busy, steal, total) jiffies of all CPUs, or None where /proc/stat does not exist."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    v = [float(x) for x in fields[:8]] + [0.0] * max(0, 8 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def _clock_mhz() -> float | None:
    vals = []
    for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            vals.append(float(p.read_text()) / 1000.0)
        except (OSError, ValueError):
            continue
    return sum(vals) / len(vals) if vals else None


_MEM: list[Any] = []


def speed_probe() -> float:
    """Milliseconds for a fixed single-threaded workload (best of 5): a core-bound integer loop plus a copy of
    16 MB (memory bandwidth, shared with neighbours on a VM host): the machine's speed right now.

    Where the clock cannot be read (VMs), this shows a host that gives the core less time, a lower frequency
    or less memory bandwidth: two measurements of the same row are comparable only when their probes agree.
    """
    import numpy as np

    if not _MEM:
        _MEM.extend([np.ones(1 << 22, np.float32), np.empty(1 << 22, np.float32)])
    src, dst = _MEM
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter_ns()
        x = 0
        for i in range(20000):
            x = (x + i * i) & 0xFFFFFFF
        np.copyto(dst, src)
        best = min(best, (time.perf_counter_ns() - t) / 1e6)
    return best


def observed(fn: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """Run ``fn`` and say how busy the rest of the machine was meanwhile, and how fast it was before and after."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    p0 = speed_probe()
    s0, c0, r0, t0 = _stat(), _clock_mhz(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    out = fn()
    s1, c1, r1, t1 = _stat(), _clock_mhz(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    p1 = speed_probe()
    info: dict[str, Any] = {"elapsed_s": round(t1 - t0, 3), "clock_mhz_start": c0, "clock_mhz_end": c1,
                            "probe_ms_start": round(p0, 4), "probe_ms_end": round(p1, 4)}
    cores = os.cpu_count() or 1
    if s0 is not None and s1 is not None and t1 > t0:
        own = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        busy = (s1[0] - s0[0]) / hz
        info["other_cpu_frac"] = round(max(busy - own, 0.0) / ((t1 - t0) * cores), 4)
        info["steal_frac"] = round((s1[1] - s0[1]) / hz / ((t1 - t0) * cores), 4)
    try:
        info["load1"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return out, info


def verdict(samples: list[dict[str, Any]], spread: float | None, spread_max: float,
            p50s: list[float] | None = None) -> tuple[bool, str]:
    """(reliable, reason) for a row from its repetitions' noise samples and their medians.

    The row's p50 is the median of the repetition medians, which one outlier repetition cannot move; so the
    row is reliable when a majority of repetitions lie within ``spread_max`` of that median (the full spread
    is reported either way). Without ``p50s`` the spread itself is judged.
    """
    why = []
    worst = max((s.get("other_cpu_frac", 0.0) for s in samples), default=0.0)
    if worst > OTHER_MAX:
        why.append(f"other processes used {worst:.0%} of the CPUs while it was timed")
    steal = max((s.get("steal_frac", 0.0) for s in samples), default=0.0)
    if steal > STEAL_MAX:
        why.append(f"the hypervisor stole {steal:.0%} of the CPUs")
    clocks = [(s.get("clock_mhz_start"), s.get("clock_mhz_end")) for s in samples]
    starts = [a for a, _ in clocks if a]
    ends = [b for _, b in clocks if b]
    if starts and ends and min(ends) < (1 - CLOCK_DROP_MAX) * max(starts):
        why.append(f"the CPU clock fell from {max(starts):.0f} to {min(ends):.0f} MHz (throttling)")
    if p50s and len(p50s) > 1:
        med = statistics.median(p50s)
        close = sum(abs(p - med) <= spread_max * med for p in p50s)
        if close < len(p50s) // 2 + 1:
            why.append(f"only {close} of {len(p50s)} repetitions' medians are within {spread_max:.0%} of their median "
                       f"(spread {spread:.1%})")
    elif spread is not None and spread > spread_max:
        why.append(f"its repetitions' medians differ by {spread:.1%} (more than {spread_max:.0%})")
    return not why, "; ".join(why)
