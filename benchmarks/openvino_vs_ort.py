"""OpenVINO IR against ONNX Runtime on this CPU: the same run's float and int8 models, side by side.

The int8 IR is converted from the very QDQ ONNX model that ``onnx:int8`` is (the same calibration and weight
rounding), so the rows differ only in the runtime that executes them. For each file:

- accuracy on the run's validation split (what edgetl chooses on) and on its test split (reported only),
  from the export's own verification;
- latency from ``edgetl bench`` (profiles host-onnx and host-openvino, 1 and 2 threads), with the benchmark
  protocol (interleaved repetitions, median of medians, noise check), the whole table measured ``--repeat``
  times one after the other;
- the graph each runtime really runs here: for the IR, OpenVINO's compiled (runtime) model, counting the
  convolutions and matrix products executed in int8 against those left in float; for ONNX Runtime, the
  export report's ``runtime_graph``.

    python benchmarks/openvino_vs_ort.py runs/flowers --out benchmarks/results/openvino_vs_ort.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = ("onnx:fp32", "onnx:int8", "openvino:fp32", "openvino:int8")
COMPUTE = ("Convolution", "GroupConvolution", "FullyConnected", "MatMul")


def _git(here: Path, *cmd: str) -> str:
    return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=here).stdout.strip()


def runtime_graph(xml: Path) -> dict[str, Any]:
    """The compute layers OpenVINO's CPU plugin runs for this IR, by the precision it runs them in."""
    import numpy as np
    import openvino as ov

    from edgetl.runtime.backends.openvino import FIXED_CONFIG

    core = ov.Core()
    model = core.read_model(model=xml.read_text(), weights=ov.Tensor(np.fromfile(xml.with_suffix(".bin"), np.uint8)))
    compiled = core.compile_model(model, "CPU", {**FIXED_CONFIG, "INFERENCE_NUM_THREADS": 1})
    by: dict[str, int] = {}
    kernels: dict[str, int] = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = {k: str(v.astype(str)) for k, v in op.get_rt_info().items()}
        if info.get("layerType") in COMPUTE:
            by[info.get("runtimePrecision", "?")] = by.get(info.get("runtimePrecision", "?"), 0) + 1
            kernels[info.get("primitiveType", "?")] = kernels.get(info.get("primitiveType", "?"), 0) + 1
    return {"compute_layers_by_precision": by, "kernels": kernels, "cpu": core.get_property("CPU", "FULL_DEVICE_NAME"),
            "cpu_capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))}


def export_rows(run_dir: Path, calibration_images: int, budget: float) -> list[dict[str, Any]]:
    from edgetl.api import export
    from edgetl.config import ExportConfig

    rows = export(run_dir, ExportConfig(targets=TARGETS, calibration_images=calibration_images,
                                        accuracy_budget=budget))
    out = []
    for r in rows:
        t = r.get("test") or {}
        out.append({"target": r["target"], "status": r["status"], "cached": r.get("cached"),
                    "val_images": r["images"], "val_top1": r["accuracy"], "val_drop_points": r["accuracy_drop_points"],
                    "val_agreement": r["top1_agreement"], "test_images": t.get("images"), "test_top1": t.get("accuracy"),
                    "test_drop_points": t.get("accuracy_drop_points"), "size_bytes": r["size_bytes"],
                    "backend": r.get("backend"), "path": r["path"],
                    "onnxruntime_graph": r.get("runtime_graph"),
                    "weight_rounding": ((r.get("calibration") or {}).get("weight_rounding") or {}).get("chosen")})
    return out


def bench(run_dir: Path, repeat: int, threads: list[int]) -> list[list[dict[str, Any]]]:
    from edgetl.bench.runner import collect, run_bench
    from edgetl.devices import load_profile

    arts = [a for a in collect([str(run_dir)]) if a.target in TARGETS]
    devices = [load_profile("host-onnx"), load_profile("host-openvino")]
    reps = []
    for i in range(repeat):
        rows = run_bench(arts, devices, data_dir=None, out_dir=Path(tempfile.gettempdir()) / "edgetl-openvino-vs-ort",
                         threads=threads, progress=lambda m: print(f"[{i + 1}/{repeat}] {m}", file=sys.stderr))
        reps.append([{k: r.get(k) for k in ("target", "device", "threads", "status", "p50_ms", "p90_ms", "reliable",
                                            "unreliable_reason", "p50_spread_pct", "speed_probe_ms", "backend")}
                     for r in rows])
    return reps


def _model(run: Path) -> dict[str, Any]:
    from edgetl.api import find_stage
    from edgetl.train_record import read

    rec = read(find_stage(run, "train"))
    return {"backbone": rec.model.get("backbone"), "alpha": rec.model.get("alpha"),
            "input_size": rec.model.get("input_size"), "strategy": rec.strategy.get("strategy")}


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=str(here / "results" / "openvino_vs_ort.json"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--calibration-images", type=int, default=200, help="the main job's (examples/flowers.yaml)")
    ap.add_argument("--budget", type=float, default=2.0, help="the main job's accuracy budget")
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info

    commit = _git(here, "rev-parse", "--short", "HEAD")
    dirty = bool(_git(here, "status", "--porcelain", "--untracked-files=no", "--", "edgetl"))
    t0 = time.perf_counter()
    run = Path(args.run_dir)
    exports = export_rows(run, args.calibration_images, args.budget)
    for r in exports:
        if r["target"].startswith("openvino:"):
            r["openvino_graph"] = runtime_graph(Path(r["path"]))
    reps = bench(run, args.repeat, [int(x) for x in args.threads.split(",")])
    doc = {"script": "benchmarks/openvino_vs_ort.py", "date": time.strftime("%Y-%m-%d"), "commit": commit,
           "edgetl_modified_since_commit": dirty, "machine": machine_info(), "run_dir": str(run),
           "model": _model(run),
           "exports": exports, "bench": reps, "seconds": round(time.perf_counter() - t0, 1)}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
