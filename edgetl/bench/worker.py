"""The benchmark worker: runs on the device (locally or over SSH) with only the runtime installed.

    python -m edgetl.bench.worker MODEL --threads 2 [--eval eval.npz] [--settings JSON]

Prints one JSON object: load and init time, first inference, the timing summary, peak memory, accuracy
on the eval images and their predicted classes, and the machine fingerprint. Exit code 0 even for a
model that fails to load (the JSON says why); a crash of the native runtime kills only this process.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mb() -> float:
    """Peak resident memory of this process. On Linux VmHWM, because ru_maxrss survives fork+exec and would
    count the parent's memory (the bench process) as the worker's."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / (1024.0 * 1024.0)


# Timed input of a text model: the cost does not depend on the words, only on the model's fixed length.
TIMING_TEXT = "How far is it from the station to the old town , and which bus goes there ?"


def _timing_input(clf: Any) -> np.ndarray:
    """Zeros, or for a TextClassifier a real sentence (all padding is no sentence: an int8 model divides by its
    zero length)."""
    return clf.encode(TIMING_TEXT) if hasattr(clf, "encode") else np.zeros(clf.input_shape, clf.input_dtype)


def _load(model: Path, threads: int, settings: dict[str, Any], out: dict[str, Any]) -> Any:
    """The model in edgetl's runtime; one without a contract is timed all the same (``out`` says accuracy needs
    its normalization)."""
    from ..errors import NoContractError
    from ..runtime import Classifier

    opts = dict(settings.get("load_options", {}))
    kw = dict(threads=threads, providers=settings.get("providers") or None,
              provider_options=settings.get("provider_options"))
    try:
        return Classifier.load(model, **kw, **opts)
    except NoContractError:
        if "mean" in opts:
            raise
        out["note"] = "no edgetl contract: latency only; pass --mean/--std (and --labels) for accuracy"
        return Classifier.load(model, **kw, mean=0.0, std=1.0)  # latency does not depend on normalization


def run(model: Path, threads: int, eval_path: Path | None, settings: dict[str, Any]) -> dict[str, Any]:
    from ..errors import EdgetlError
    from ..targets import artifact_files
    from .fingerprint import machine_info
    from .noise import observed
    from .timing import measure, sustained

    out: dict[str, Any] = {"fingerprint": machine_info()}
    rss0 = _rss_mb()
    try:
        t0 = time.perf_counter()
        size = sum(f.stat().st_size for f in artifact_files(model))  # an OpenVINO IR: its .xml and .bin
        t1 = time.perf_counter()
        clf = _load(model, threads, settings, out)
        t2 = time.perf_counter()
    except EdgetlError as exc:
        return {**out, "status": "failed", "reason": str(exc), "error_kind": exc.kind}
    x = _timing_input(clf)
    t3 = time.perf_counter()
    clf.scores_from_input(x)
    first_ms = 1000 * (time.perf_counter() - t3)
    call = lambda: clf.scores_from_input(x)  # noqa: E731
    batch = int(settings.get("batch") or 1)
    if batch > 1:  # throughput mode: one call classifies a batch (models with a dynamic batch dimension)
        if not clf.dynamic_batch:
            return {**out, "status": "failed", "error_kind": "batch_unsupported",
                    "reason": f"batch {batch} needs a model with a dynamic batch dimension (edgetl's ONNX artifacts "
                              "have one; TFLite artifacts have batch 1)"}
        xb = np.zeros((batch, *clf.input_shape[1:]), clf.input_dtype)
        clf.infer_batch(xb)
        call = lambda: clf.infer_batch(xb)  # noqa: E731
    if settings.get("sustained_s"):
        (timing, lat, windows), noise = observed(lambda: sustained(call, settings["sustained_s"]))
        out["windows"] = windows
    else:
        (timing, lat), noise = observed(lambda: measure(call, **settings.get("timing", {})))
    out["noise"] = noise
    if batch > 1:
        timing = dataclasses.replace(timing, throughput_ips=batch * timing.throughput_ips)
    out.update({"status": "ok", "reason": "", "size_bytes": size, "batch": batch, "load_ms": round(1000 * (t1 - t0), 3),
                "init_ms": round(1000 * (t2 - t1), 3), "first_ms": round(first_ms, 3), "timing": timing.to_dict(),
                "latencies_ms": [round(float(v), 4) for v in lat[:2000]],
                "backend": f"{clf.backend_name} {clf.backend_version}",
                "providers": clf.providers, "node_providers": node_providers(clf, settings)})
    # memory of loading and running the model, before the accuracy images are loaded
    out["rss_peak_mb"] = round(_rss_mb(), 1)
    out["rss_delta_mb"] = round(_rss_mb() - rss0, 1)
    if eval_path is not None:
        out.update(_accuracy(clf, eval_path))
    return out


def _accuracy(clf: Any, eval_path: Path) -> dict[str, Any]:
    """Predictions, scores and (with labels) accuracy on the eval items (pixels, or a text model's texts)."""
    data = np.load(eval_path)
    items = [str(t) for t in data["texts"]] if "texts" in data.files else data["pixels"]
    scores = [np.asarray(clf.scores(p), dtype=np.float64) for p in items]
    preds = [int(np.argmax(v)) for v in scores]
    out: dict[str, Any] = {"preds": preds,
                           "scores": [[float(f"{x:.7g}") for x in v] for v in scores]}  # devices compared by size
    if "labels" in data:
        out["accuracy"] = float(np.mean(np.asarray(preds) == data["labels"]))
    return out


def node_providers(clf: Any, settings: dict[str, Any]) -> dict[str, int] | None:
    """For ONNX Runtime with an accelerator provider: how many graph nodes each provider ran (one profiled call).

    ``get_providers()`` lists what the session registered, not where the work went; the profile of one run
    names the provider of every node, so a silent fall-back to the CPU shows.
    """
    wanted = [p for p in settings.get("providers") or [] if p != "CPUExecutionProvider"]
    if not wanted or clf.backend_name != "onnxruntime":
        return None
    import tempfile

    from ..runtime import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        prof = Classifier.load(clf.path, providers=settings.get("providers"), profile_dir=tmp,
                               provider_options=settings.get("provider_options"), mean=clf.contract.mean,
                               std=clf.contract.std)
        x = np.zeros(prof.input_shape, prof.input_dtype)
        prof.scores_from_input(x)
        path = prof.end_profiling()
        counts: dict[str, int] = {}
        for ev in json.loads(Path(path).read_text()) if path else []:
            p = (ev.get("args") or {}).get("provider")
            if ev.get("cat") == "Node" and p and ev.get("name", "").endswith("_kernel_time"):
                counts[p] = counts.get(p, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgetl.bench.worker")
    ap.add_argument("model", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval", type=Path)
    ap.add_argument("--settings", default="{}")
    a = ap.parse_args(argv)
    result = run(a.model, a.threads, a.eval, json.loads(a.settings))
    sys.stdout.write("EDGETL-RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
