"""Benchmark artifacts on device profiles: one row per (artifact, device, threads), failures become rows."""
from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import targets
from ..artifacts import atomic_write_bytes, read_json
from ..devices import DeviceProfile
from ..errors import ConfigError, DeviceUnavailableError, EdgetlError, ProviderUnavailableError

log = logging.getLogger(__name__)

ROW_FIELDS = ("artifact", "target", "run", "device", "threads", "status", "reason", "size_bytes", "load_ms", "init_ms",
              "first_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "ci95_ms", "throughput_ips", "runs",
              "rss_peak_mb", "accuracy", "top1_agreement", "backend", "estimate")


@dataclass(frozen=True)
class BenchArtifact:
    path: Path
    target: str
    run: str
    labels: tuple[str, ...]
    size: tuple[int, int]
    eval_paths: tuple[str, ...] = ()
    eval_labels: tuple[int, ...] = ()


def collect(inputs: list[str]) -> list[BenchArtifact]:
    """Artifacts from run folders (their exports) and from model files."""
    from ..runtime.contract import load_contract

    out: list[BenchArtifact] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            run_file = p / "run.json"
            if not run_file.is_file():
                raise ConfigError(f"{p} is neither a model file nor an edgetl run folder (no run.json).")
            state = read_json(run_file)
            exports = state.get("exports") or {}
            if not exports:
                raise ConfigError(f"Run folder {p} has no exported artifacts: run 'edgetl export {p}' first.")
            split = {}
            train = state.get("stages", {}).get("train")
            if train and (p / train["dir"] / "split.json").is_file():
                split = read_json(p / train["dir"] / "split.json")
            for target, e in exports.items():
                mp = p / e["path"]
                c = load_contract(mp)
                out.append(BenchArtifact(mp, target, p.name, tuple(c.labels) if c else (), c.size if c else (0, 0),
                                         tuple(split.get("val", [])), tuple(split.get("val_labels", []))))
        elif p.is_file():
            try:
                c = load_contract(p)
            except EdgetlError:
                c = None
            t = targets.get(f"{c.format}:{c.precision}") if c and c.format and c.precision else \
                targets.for_file(str(p), c.input_dtype if c else None)
            if t is None:
                raise ConfigError(f"{p}: edgetl benchmarks {', '.join(f.suffix for f in targets.FORMATS.values())} "
                                  "model files.")
            target = t.name
            out.append(BenchArtifact(p, target, p.parent.name, tuple(c.labels) if c else (), c.size if c else (0, 0)))
        else:
            raise ConfigError(f"{item!r} does not exist: pass model files (.tflite, .onnx) or edgetl run folders.")
    return out


def eval_set(art: BenchArtifact, data_dir: str | None, max_images: int, cache: Path) -> Path | None:
    """An npz of decoded eval pixels (and labels when the class names match) at the artifact's size."""
    from ..data.images import decode_many

    if art.size == (0, 0):
        return None
    if data_dir:
        from ..data.scan import scan

        ds = scan(data_dir)
        paths = [str(s.path) for s in ds.samples]
        labels: list[int] | None = None
        if art.labels and set(ds.classes) <= set(art.labels):
            labels = [art.labels.index(ds.classes[s.label]) for s in ds.samples]
    elif art.eval_paths:
        paths, labels = list(art.eval_paths), list(art.eval_labels)
    else:
        return None
    if max_images and len(paths) > max_images:
        pick = np.random.default_rng(0).choice(len(paths), max_images, replace=False)
        pick.sort()
        paths = [paths[i] for i in pick]
        labels = [labels[i] for i in pick] if labels else None
    import hashlib

    key = "eval-" + hashlib.sha256(json.dumps([paths, list(art.size)]).encode()).hexdigest()[:16] + ".npz"
    f = cache / key
    if not f.is_file():
        pixels, keep = decode_many(paths, art.size[0])
        buf = io.BytesIO()
        arrays = {"pixels": pixels}
        if labels:
            arrays["labels"] = np.asarray([labels[i] for i in keep])
        np.savez(buf, **arrays)
        atomic_write_bytes(f, buf.getvalue())
    return f


def _row(art: BenchArtifact, dev: DeviceProfile, threads: int, status: str, reason: str = "",
         r: dict[str, Any] | None = None) -> dict[str, Any]:
    r = r or {}
    t = r.get("timing", {})
    return {"artifact": str(art.path), "target": art.target, "run": art.run, "device": dev.name, "threads": threads,
            "status": status, "reason": reason, "size_bytes": art.path.stat().st_size,
            "load_ms": r.get("load_ms"), "init_ms": r.get("init_ms"), "first_ms": r.get("first_ms"),
            **{k: t.get(k) for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "ci95_ms", "throughput_ips",
                                     "runs")},
            "rss_peak_mb": r.get("rss_peak_mb"), "accuracy": r.get("accuracy"), "top1_agreement": None,
            "backend": r.get("backend"), "estimate": None, "fingerprint": r.get("fingerprint"),
            "latencies_ms": r.get("latencies_ms"), "preds": r.get("preds")}


def run_bench(artifacts: list[BenchArtifact], devices: list[DeviceProfile], *, data_dir: str | None, out_dir: Path,
              threads: list[int] | None = None, max_images: int = 0, timeout_s: float = 600.0,
              progress: Callable[[str], None] | None = None,
              omitted: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per (artifact, device, thread count) that can run; a failure is a row, never an exception.

    Pairs that can never run (an ONNX model on a TFLite-only board) are not rows: they go to ``omitted``.
    ``threads`` overrides the thread counts of the devices edgetl measures; a board it cannot reach keeps its
    profile's threads for its estimates, and an Edge TPU board always runs one thread.
    """
    from .remote import SSHTarget, run_local

    cache = out_dir / ".eval"
    cache.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for dev in devices:
        remote: SSHTarget | None = None
        unreachable = ""
        if dev.access.kind == "none":
            unreachable = (f"no access configured (access.kind: none): copy {dev.path} and set access "
                           "{kind: ssh, host, user, key} to measure this device")
        elif dev.access.kind == "ssh":
            try:
                remote = SSHTarget(dev.access)
                remote.check()
            except DeviceUnavailableError as exc:
                unreachable = str(exc)
        settings = {"providers": list(dev.providers),
                    "timing": {k: getattr(dev, k) for k in ("warmup_runs", "min_runs", "max_runs", "min_time_s",
                                                            "max_time_s")}}
        if dev.delegate == "edgetpu":
            thread_list = [1]  # the Edge TPU does the work: thread counts would repeat the same row
        elif unreachable or not threads:
            thread_list = list(dev.threads)
        else:
            thread_list = list(threads)
        for art in artifacts:
            eval_path: Path | None = None
            ok, why = dev.accepts(art.target)
            if not ok:
                if omitted is not None:
                    omitted.append({"artifact": str(art.path), "target": art.target, "device": dev.name, "why": why})
                continue
            for i, n in enumerate(thread_list):
                if unreachable:
                    row = _row(art, dev, n, "unreachable", unreachable)
                    row["estimate"], why_not = _estimate(art, dev, n)
                    if why_not:
                        row["reason"] += f"; no estimate: {why_not}"
                    rows.append(row)
                    continue
                if i == 0 and eval_path is None:
                    eval_path = eval_set(art, data_dir, max_images, cache)
                if progress:
                    progress(f"{dev.name}: {art.run}/{art.target} threads={n}")
                ev = eval_path if i == 0 else None  # accuracy once per artifact and device
                t0 = time.perf_counter()
                if remote is not None:
                    r = remote.run_worker(art.path, n, ev, settings, timeout_s)
                else:
                    r = run_local(art.path, n, ev, settings, timeout_s)
                status = r.get("status", "failed")
                if status == "failed" and r.get("error_kind") == ProviderUnavailableError.kind:
                    status = "skipped"  # e.g. CUDA provider not available here
                row = _row(art, dev, n, status, r.get("reason", "") or r.get("note", ""), r)
                row["wall_s"] = round(time.perf_counter() - t0, 2)
                rows.append(row)
    _agreement(rows)
    return rows


def _estimate(art: BenchArtifact, dev: DeviceProfile, threads: int) -> tuple[dict[str, Any] | None, str]:
    """The inspect estimate for a device bench cannot reach, clearly labeled as an estimate; or why there is none.

    A failure here is a note on the row: one artifact the estimator cannot read never ends the benchmark.
    """
    import dataclasses

    from ..analysis.compat import estimate
    from ..analysis.inspect_model import analyze

    try:
        return estimate(analyze(art.path), dataclasses.replace(dev, threads=(threads,))), ""
    except Exception as exc:  # noqa: BLE001 - reported on the row, never raised
        log.warning("no estimate for %s on %s: %s", art.path, dev.name, exc)
        return None, " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _agreement(rows: list[dict[str, Any]]) -> None:
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
