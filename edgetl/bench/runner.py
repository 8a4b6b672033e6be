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
from ..artifacts import atomic_write_bytes
from ..devices import DeviceProfile
from ..errors import ConfigError, DeviceUnavailableError, EdgetlError
from ..train_record import Split, read_split
from .rows import ROW_FIELDS, agreement, make_row, measured_row, probe_values, unspeed  # noqa: F401

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BenchArtifact:
    path: Path
    target: str
    run: str
    labels: tuple[str, ...]
    size: tuple[int, int]
    eval_paths: tuple[str, ...] = ()
    eval_labels: tuple[int, ...] = ()
    keras_agreement: float | None = None  # top-1 agreement with the Keras model, from export-time verification
    kind: str = "image"  # the modality (edgetl.modality): a text model's eval_paths hold its texts


def _keras_agreement(model: Path) -> float | None:
    """The export report next to an artifact (its stage folder) says how often it agreed with Keras."""
    v = _read_object(model.resolve().parent / "report.json").get("top1_agreement")  # bounded, {} if unusable
    try:
        f = float(v) if v is not None and not isinstance(v, bool) else None
    except (ValueError, TypeError):
        return None
    return f if f is not None and 0.0 <= f <= 1.0 else None


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON object from a bounded regular file; {} when it is missing or not an object."""
    from ..runtime.limits import MAX_CONTRACT_BYTES, read_bounded

    try:
        got = json.loads(read_bounded(path, MAX_CONTRACT_BYTES, None, ConfigError))
    except (OSError, ValueError, RecursionError, ConfigError):
        return {}
    return got if isinstance(got, dict) else {}


def _split_of(c: Any, model: Path) -> Split | None:
    """The validation split of the run an edgetl artifact came from (its contract names the run), so a model
    file benchmarked alone still gets its accuracy; None when that run is not on this machine.

    The contract is untrusted: its run folder is used only when the model file itself lies inside that folder
    (a contract cannot point bench at photos listed somewhere else), the stage is a ``train-<key>`` name, and
    the split file is a bounded regular file.
    """
    from ..runs import STAGE_RE

    src = (c.meta.get("source") or {}) if c is not None else {}
    run, stage = src.get("run_dir"), src.get("train_stage")
    if not isinstance(run, str) or not isinstance(stage, str) or not STAGE_RE.match(stage) or "\0" in run:
        return None
    try:
        run_dir = Path(run).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if run_dir not in model.resolve().parents:
        return None
    return read_split(run_dir / stage / "split.json")


def _eval_items(split: Split | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The validation items of a run: image paths, or a text run's texts (none without a split edgetl wrote)."""
    return split.part("val") if split is not None else ((), ())


def collect(inputs: list[str]) -> list[BenchArtifact]:
    """Artifacts from run folders (their exports) and from model files."""
    from ..runtime.contract import load_contract

    out: list[BenchArtifact] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            from ..runs import read_run, run_path

            if not (p / "run.json").is_file():
                raise ConfigError(f"{p} is neither a model file nor an edgetl run folder (no run.json).")
            state = read_run(p)  # made by edgetl, every path it names inside the run
            exports = state.get("exports") or {}
            if not exports:
                raise ConfigError(f"Run folder {p} has no exported artifacts: run 'edgetl export {p}' first.")
            train = state.get("stages", {}).get("train")
            split = read_split(run_path(p, train["dir"] + "/split.json")) if train else None
            for target, e in exports.items():
                mp = run_path(p, e["path"])
                c = load_contract(mp)
                out.append(BenchArtifact(mp, target, p.name, tuple(c.labels) if c else (), c.size if c else (0, 0),
                                         *_eval_items(split), _keras_agreement(mp),
                                         kind=split.kind if split is not None else "image"))
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
            split = _split_of(c, p)
            out.append(BenchArtifact(p, target, p.parent.name, tuple(c.labels) if c else (), c.size if c else (0, 0),
                                     *_eval_items(split), keras_agreement=_keras_agreement(p),
                                     kind=split.kind if split is not None else "image"))
        else:
            raise ConfigError(f"{item!r} does not exist: pass model files (.tflite, .onnx) or edgetl run folders.")
    return out


def eval_set(art: BenchArtifact, data_dir: str | None, max_images: int, cache: Path) -> Path | None:
    """An npz of the artifact's eval items, built as its modality says (``edgetl.modality``: ``bench_eval_set``)."""
    from ..modality import get

    if art.size == (0, 0):
        return None
    return get(art.kind).plugin("bench_eval_set")(art, data_dir, max_images, cache)


def text_eval_set(art: BenchArtifact, data_dir: str | None, max_images: int, cache: Path) -> Path | None:
    """An npz of a text model's validation texts and labels."""
    if data_dir:
        raise ConfigError("--data gives images for image models; a text model is measured on its run's "
                          "validation texts.")
    n = min(len(art.eval_paths), max_images or len(art.eval_paths))
    buf = io.BytesIO()
    np.savez(buf, texts=np.array(art.eval_paths[:n], dtype=str), labels=np.asarray(art.eval_labels[:n]))
    import hashlib

    f = cache / ("eval-text-" + hashlib.sha256(buf.getvalue()).hexdigest()[:16] + ".npz")
    if not f.is_file():
        atomic_write_bytes(f, buf.getvalue())
    return f


def image_eval_set(art: BenchArtifact, data_dir: str | None, max_images: int, cache: Path) -> Path | None:
    """An npz of decoded eval pixels (and labels when the class names match) at the artifact's size."""
    from ..data.images import decode_many

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


def run_bench(artifacts: list[BenchArtifact], devices: list[DeviceProfile], *, data_dir: str | None, out_dir: Path,
              threads: list[int] | None = None, max_images: int = 0, timeout_s: float = 600.0,
              progress: Callable[[str], None] | None = None,
              omitted: list[dict[str, Any]] | None = None, repetitions: int | None = None,
              sustained_s: float | None = None, batch: int = 1, parallel: int = 4) -> list[dict[str, Any]]:
    """One row per (artifact, device, thread count) that can run; a failure is a row, never an exception.

    Pairs that can never run (an ONNX model on a TFLite-only board) are not rows: they go to ``omitted``.
    ``threads`` overrides the thread counts of the devices edgetl measures; a board it cannot reach keeps its
    profile's threads for its estimates, and an Edge TPU board always runs one thread.

    The protocol (docs/benchmarks.md, "The benchmark protocol"): per device, every row is measured ``repetitions`` times,
    interleaved (A B C, then C B A, ...), each repetition a fresh worker that warms up until steady; a row's
    p50 is the median of its repetitions' medians, and it is marked ``reliable: false`` with the reason when
    the repetitions disagree by more than 5% or the machine was busy, stolen from or throttled meanwhile.
    ``sustained_s`` runs each row once for that long and reports the drift between its first and last window.
    ``parallel``: how many SSH devices are measured at the same time (the devices on this machine take turns).
    """
    cache = out_dir / ".eval"
    cache.mkdir(parents=True, exist_ok=True)
    omit: list[dict[str, Any]] = []

    def one_device(dev: DeviceProfile) -> list[dict[str, Any]]:
        return _bench_device(dev, artifacts, omit, threads=threads, data_dir=data_dir, max_images=max_images,
                             cache=cache, timeout_s=timeout_s, progress=progress, repetitions=repetitions,
                             sustained_s=sustained_s, batch=batch)

    # Fan-out: devices reached over SSH are separate machines and are measured at the same time (at most
    # ``parallel`` at once), each still one measurement at a time; the devices on this machine share its CPU,
    # so they run one after another in a single lane. A slow or dead device holds only its own lane.
    lanes: list[list[DeviceProfile]] = [[d for d in devices if d.access.kind != "ssh"]]
    lanes += [[d] for d in devices if d.access.kind == "ssh"]
    lanes = [lane for lane in lanes if lane]
    by_device: dict[int, list[dict[str, Any]]] = {}

    def run_lane(lane: list[DeviceProfile]) -> None:
        for dev in lane:
            by_device[id(dev)] = one_device(dev)

    if parallel > 1 and len(lanes) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(parallel, len(lanes))) as pool:
            list(pool.map(run_lane, lanes))
    else:
        for lane in lanes:
            run_lane(lane)
    rows = [r for d in devices for r in by_device.get(id(d), [])]
    if omitted is not None:
        omitted.extend(omit)
    agreement(rows)
    return rows


def _bench_device(dev: DeviceProfile, artifacts: list[BenchArtifact], omitted: list[dict[str, Any]], *,
                  threads: list[int] | None, data_dir: str | None, max_images: int, cache: Path, timeout_s: float,
                  progress: Callable[[str], None] | None, repetitions: int | None, sustained_s: float | None,
                  batch: int) -> list[dict[str, Any]]:
    """Every row of one device: measured, or unreachable with an estimate."""
    from .remote import SSHTarget

    rows: list[dict[str, Any]] = []
    remote: SSHTarget | None = None
    unreachable = ""
    if dev.access.kind == "none" and dev.emulated:
        unreachable = ("an emulated device with no access configured: start it (sudo python benchmarks/arm64_box.py "
                       "up) and pass the profile that it writes")
    elif dev.access.kind == "none":
        unreachable = (f"no access configured (access.kind: none): copy {dev.path} and set access "
                       "{kind: ssh, host, user, key} to measure this device")
    elif dev.access.kind == "ssh":
        try:
            remote = SSHTarget(dev.access)
            remote.check()
        except DeviceUnavailableError as exc:
            unreachable = str(exc)
    settings = {"providers": list(dev.providers), "provider_options": dev.provider_options, "batch": batch,
                "sustained_s": sustained_s,
                "timing": {k: getattr(dev, k) for k in ("warmup_runs", "min_runs", "max_runs", "min_time_s",
                                                        "max_time_s")}}
    if dev.delegate == "edgetpu":
        thread_list = [1]  # the Edge TPU does the work: thread counts would repeat the same row
    elif unreachable or not threads:
        thread_list = list(dev.threads)
    else:
        thread_list = list(threads)
    plan: list[tuple[BenchArtifact, int, bool]] = []
    for art in artifacts:
        ok, why = dev.accepts(art.target)
        if not ok:
            omitted.append({"artifact": str(art.path), "target": art.target, "device": dev.name, "why": why})
            continue
        if unreachable:
            for n in thread_list:
                row = make_row(art, dev, n, "unreachable", unreachable)
                if dev.emulated:  # an emulator is no board: nothing to estimate
                    row["reason"] += "; an emulated device gets no estimate"
                    rows.append(row)
                    continue
                row["estimate"], why_not = _estimate(art, dev, n)
                if why_not:
                    row["reason"] += f"; no estimate: {why_not}"
                rows.append(row)
            continue
        plan.extend((art, n, i == 0) for i, n in enumerate(thread_list))
    if plan:
        rows.extend(_measure_device(dev, plan, settings, remote, data_dir=data_dir, max_images=max_images,
                                    cache=cache, timeout_s=timeout_s, progress=progress,
                                    repetitions=1 if sustained_s else (repetitions or dev.repetitions)))
    return rows


def _measure_device(dev: DeviceProfile, plan: list[tuple[BenchArtifact, int, bool]], settings: dict[str, Any],
                    remote: Any, *, data_dir: str | None, max_images: int, cache: Path, timeout_s: float,
                    progress: Callable[[str], None] | None, repetitions: int) -> list[dict[str, Any]]:
    """Measure every (artifact, threads) of one device in interleaved repetitions, one row each."""
    from .remote import run_local

    reps = max(1, repetitions)
    per_rep = _per_repetition(settings, reps)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    failed: set[tuple[str, int]] = set()
    for rep in range(reps):
        order = plan if rep % 2 == 0 else plan[::-1]  # alternate the order: no row always runs first or last
        for art, n, first in order:
            key = (str(art.path), n)
            if key in failed:
                continue
            ev = eval_set(art, data_dir, max_images, cache) if rep == 0 and first else None
            if progress:
                progress(f"{dev.name}: {art.run}/{art.target} threads={n}" + (f" (repetition {rep + 1}/{reps})"
                                                                                if reps > 1 else ""))
            t0 = time.perf_counter()
            if remote is not None:
                r = remote.run_worker(art.path, n, ev, per_rep, timeout_s)
            else:
                r = run_local(art.path, n, ev, per_rep, timeout_s)
            r["wall_s"] = time.perf_counter() - t0
            results.setdefault(key, []).append(r)
            if r.get("status") != "ok":
                failed.add(key)
    # the machine's speed over this device's whole measurement: rows timed while it differed are flagged
    probes = [v for rs_ in results.values() for r in rs_ for v in probe_values(r)]
    probe_med = float(np.median(probes)) if probes else None
    return [measured_row(art, dev, n, results.get((str(art.path), n), []), settings, probe_med)
            for art, n, _ in plan]


def _per_repetition(settings: dict[str, Any], reps: int) -> dict[str, Any]:
    """Each repetition's share of the profile's timing, with floors that never exceed the profile's own values
    (an emulated profile asks for 2-3 runs)."""
    t = dict(settings["timing"])
    return {**settings, "timing": {**t, "min_time_s": max(t["min_time_s"] / reps, min(0.5, t["min_time_s"])),
                                   "max_time_s": max(t["max_time_s"] / reps, min(1.0, t["max_time_s"])),
                                   "min_runs": max(t["min_runs"] // reps, min(10, t["min_runs"])),
                                   "max_runs": max(t["max_runs"] // reps, min(20, t["max_runs"]))}}


def _estimate(art: BenchArtifact, dev: DeviceProfile, threads: int) -> tuple[dict[str, Any] | None, str]:
    """The inspect estimate for a device bench cannot reach, clearly labeled as an estimate; or why there is none.

    A failure here is a note on the row: one artifact the estimator cannot read never ends the benchmark.
    """
    import dataclasses

    from ..analysis.compat import precision_of
    from ..analysis.estimate import estimate_for
    from ..analysis.inspect_model import analyze

    try:
        report = analyze(art.path)
        return estimate_for(report, dataclasses.replace(dev, threads=(threads,)), precision_of(report))
    except Exception as exc:  # noqa: BLE001 - reported on the row, never raised
        log.warning("no estimate for %s on %s: %s", art.path, dev.name, exc)
        return None, " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
