"""The bench row: its fields, how one is made from a worker's answer, and what is done to rows afterwards."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import targets
from ..devices import DeviceProfile

if TYPE_CHECKING:
    from .runner import BenchArtifact

ROW_FIELDS = ("artifact", "target", "run", "device", "threads", "batch", "status", "reason", "reliable",
              "unreliable_reason", "size_bytes", "load_ms", "init_ms", "first_ms", "p50_ms", "p90_ms", "p99_ms",
              "mean_ms", "std_ms", "ci95_ms", "p50_reps_ms", "p50_spread_pct", "repetitions", "throughput_ips", "runs",
              "rss_peak_mb", "accuracy", "top1_agreement", "keras_top1_agreement", "backend", "providers",
              "node_providers", "drift_pct", "windows", "speed_probe_ms", "estimate", "emulated", "emulated_ms")
# the fields of a row that are a speed: an emulated device's are moved into ``emulated_ms`` (never shown as one)
SPEED_FIELDS = ("load_ms", "init_ms", "first_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "ci95_ms",
                "p50_reps_ms", "p50_spread_pct", "throughput_ips", "speed_probe_ms", "drift_pct")
EMULATED_REASON = ("emulated (qemu-user on an x86 machine): results are real aarch64 results, the latency is the "
                   "emulator's and no speed of any board")


def make_row(art: BenchArtifact, dev: DeviceProfile, threads: int, status: str, reason: str = "",
             r: dict[str, Any] | None = None) -> dict[str, Any]:
    r = r or {}
    t = r.get("timing", {})
    return {"artifact": str(art.path), "target": art.target, "run": art.run, "device": dev.name, "threads": threads,
            "status": status, "reason": reason, "size_bytes": art.path.stat().st_size,
            "load_ms": r.get("load_ms"), "init_ms": r.get("init_ms"), "first_ms": r.get("first_ms"),
            **{k: t.get(k) for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "ci95_ms", "throughput_ips",
                                     "runs")},
            "rss_peak_mb": r.get("rss_peak_mb"), "accuracy": r.get("accuracy"), "top1_agreement": None,
            "keras_top1_agreement": art.keras_agreement,
            "backend": r.get("backend"), "providers": r.get("providers"), "node_providers": r.get("node_providers"),
            "batch": r.get("batch", 1), "estimate": None, "fingerprint": r.get("fingerprint"),
            "latencies_ms": r.get("latencies_ms"), "preds": r.get("preds"), "reliable": None,
            "unreliable_reason": "", "p50_reps_ms": None, "p50_spread_pct": None, "repetitions": None,
            "drift_pct": None, "windows": r.get("windows"), "speed_probe_ms": None, "emulated": dev.emulated or None,
            "emulated_ms": None, "scores": r.get("scores")}


def unspeed(row: dict[str, Any]) -> None:
    """An emulated device's row: its timings kept apart in ``emulated_ms``, every speed field empty."""
    row["emulated_ms"] = {k: row[k] for k in SPEED_FIELDS if row.get(k) is not None}
    for k in SPEED_FIELDS:
        row[k] = None
    row["latencies_ms"], row["windows"] = None, None
    row["reliable"] = False
    row["unreliable_reason"] = "; ".join(x for x in (EMULATED_REASON, row.get("unreliable_reason")) if x)


def agreement(rows: list[dict[str, Any]]) -> None:
    """Top-1 agreement of each artifact's predictions with its run's float reference on the same device."""
    refs: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        if r.get("preds") and targets.get(r["target"]).is_float_reference:
            refs.setdefault((r["run"], r["device"]), r["preds"])
    for r in rows:
        ref = refs.get((r["run"], r["device"]))
        if r.get("preds") and ref and len(ref) == len(r["preds"]):
            r["top1_agreement"] = float(np.mean(np.asarray(r["preds"]) == np.asarray(ref)))
    # accuracy is measured once per (artifact, device); show it on every thread row
    acc = {(r["artifact"], r["device"]): (r["accuracy"], r["top1_agreement"]) for r in rows if r["accuracy"] is not None}
    for r in rows:
        if r["accuracy"] is None and (r["artifact"], r["device"]) in acc:
            r["accuracy"], r["top1_agreement"] = acc[(r["artifact"], r["device"])]


SPREAD_MAX = 0.05  # repetitions whose medians differ by more than this make a row unreliable
PROBE_DRIFT_MAX = 0.05  # the speed probe's change, against the device's median, that makes a row unreliable


def probe_values(r: dict[str, Any]) -> list[float]:
    """The speed probe's readings around one repetition (start and end)."""
    noise = r.get("noise") or {}
    return [v for v in (noise.get("probe_ms_start"), noise.get("probe_ms_end")) if v]


def measured_row(art: BenchArtifact, dev: DeviceProfile, n: int, rs: list[dict[str, Any]], settings: dict[str, Any],
                 probe_med: float | None) -> dict[str, Any]:
    """One (artifact, threads) row from its repetitions: a failure as the first failing repetition says, or the
    timing statistics over all of them with the protocol's verdict on whether they can be trusted."""
    from ..errors import ProviderUnavailableError

    first_r = rs[0] if rs else {"status": "failed", "reason": "not measured"}
    ok = [r for r in rs if r.get("status") == "ok"]
    if len(ok) != len(rs) or not ok:
        bad = next(r for r in rs if r.get("status") != "ok") if rs else first_r
        status = bad.get("status", "failed")
        if status == "failed" and bad.get("error_kind") == ProviderUnavailableError.kind:
            status = "skipped"  # e.g. the CUDA provider is not installed here
        row = make_row(art, dev, n, status, bad.get("reason", ""), bad)
        row["wall_s"] = round(sum(r["wall_s"] for r in rs), 2)
        if dev.emulated:
            unspeed(row)
        return row
    row = make_row(art, dev, n, "ok", first_r.get("note", ""), first_r)
    p50s = [r["timing"]["p50_ms"] for r in ok]
    med = float(np.median(p50s))
    spread = (max(p50s) - min(p50s)) / med if len(p50s) > 1 and med > 0 else None
    _statistics(row, ok, rs, p50s, med, spread, first_r.get("batch", 1) or 1)
    row["reliable"], row["unreliable_reason"] = _verdict(row, ok, spread, p50s, probe_med, n, first_r)
    if first_r.get("windows"):
        w = first_r["windows"]
        row["drift_pct"] = round(100 * (w[-1]["p50_ms"] - w[0]["p50_ms"]) / w[0]["p50_ms"], 2) if w[0]["p50_ms"] else None
    wanted = [p for p in settings.get("providers") or [] if p != "CPUExecutionProvider"]
    nodes = first_r.get("node_providers") or {}
    if wanted and nodes and not any(nodes.get(p) for p in wanted):
        row["status"] = "failed"
        row["reason"] = (f"asked for {', '.join(wanted)} but every node ran on "
                         f"{', '.join(sorted(nodes))}: not an accelerator result")
    if dev.emulated:
        unspeed(row)
    return row


def _statistics(row: dict[str, Any], ok: list[dict[str, Any]], rs: list[dict[str, Any]], p50s: list[float],
                med: float, spread: float | None, batch: int) -> None:
    lat = [x for r in ok for x in r.get("latencies_ms") or []]
    if lat:
        arr = np.asarray(lat)
        row.update(p90_ms=round(float(np.percentile(arr, 90)), 4), p99_ms=round(float(np.percentile(arr, 99)), 4),
                   mean_ms=round(float(arr.mean()), 4), std_ms=round(float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, 4))
        row["ci95_ms"] = round(1.96 * row["std_ms"] / np.sqrt(len(arr)), 4)
    row.update(p50_ms=round(med, 4), p50_reps_ms=[round(x, 4) for x in p50s], repetitions=len(ok),
               p50_spread_pct=None if spread is None else round(100 * spread, 2),
               runs=sum(r["timing"]["runs"] for r in ok), throughput_ips=round(1000.0 * batch / med, 2),
               latencies_ms=lat[:4000], rss_peak_mb=max(r.get("rss_peak_mb") or 0 for r in ok),
               wall_s=round(sum(r["wall_s"] for r in rs), 2))


def _verdict(row: dict[str, Any], ok: list[dict[str, Any]], spread: float | None, p50s: list[float],
             probe_med: float | None, n: int, first_r: dict[str, Any]) -> tuple[bool, str]:
    """(reliable, why not): the noise checks, the speed probe against the device's median, a warm-up that did
    not settle, and threads that take every core of the device."""
    from .noise import verdict

    reliable, why = verdict([r.get("noise") or {} for r in ok], spread, SPREAD_MAX, p50s)
    reasons = [why] if why else []
    mine = [v for r in ok for v in probe_values(r)]
    if mine and probe_med:
        row["speed_probe_ms"] = round(float(np.median(mine)), 4)
        worst = max(mine, key=lambda v: abs(v - probe_med))
        if abs(worst - probe_med) > PROBE_DRIFT_MAX * probe_med:
            reliable = False
            reasons.append(f"the machine ran {100 * (worst / probe_med - 1):+.0f}% off its usual speed while this "
                           "row was timed (speed probe)")
    unsettled = [r for r in ok if (r.get("timing") or {}).get("steady") is False]
    if unsettled:  # the warm-up ran its 3x limit without the latency settling
        reliable = False
        reasons.append(f"the warm-up did not settle in {len(unsettled)} of {len(ok)} repetition(s) (latency still "
                       "moving after 3x warmup_runs)")
    cores = (first_r.get("fingerprint") or {}).get("cores")
    if isinstance(cores, int) and n >= cores > 0:  # no core left for anything else on that machine
        reliable = False
        reasons.append(f"{n} threads use all {cores} cores of the device, so any other work on it moves this row "
                       "between runs")
    return reliable, "; ".join(reasons)
