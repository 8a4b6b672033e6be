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
