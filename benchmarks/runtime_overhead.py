"""edgetl.runtime overhead measured on ``Classifier.classify()`` itself, against a bare interpreter, and cold start.

Four loops on the same model with one thread, interleaved in rounds so that machine noise hits all alike:

- ``bare``: ``set_tensor`` / ``invoke`` / ``get_tensor`` on a tensor already in the model's dtype;
- ``classify_array``: ``classify()`` on a decoded uint8 (H, W, 3) array already at the model's size (what a
  camera pipeline hands over): preprocessing, quantization, inference, dequantization and top-k;
- ``classify_jpeg``: ``classify()`` on a JPEG path: the same plus decoding and resizing;
- ``decode``: decoding and resizing that JPEG alone (``load_rgb``), reported apart from inference.

Ratios are median / median(bare). Cold start is measured in fresh processes (import edgetl.runtime + load +
first result), with a check that TensorFlow was never imported. Writes one JSON object (``--out``).

    python benchmarks/runtime_overhead.py MODEL.tflite [MODEL.onnx ...] --jpeg photo.jpg --out results/runtime_overhead.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLD = """
import time, sys, json
t0 = time.perf_counter()
from edgetl.runtime import Classifier
import numpy as np
clf = Classifier.load(sys.argv[1], threads=1, **json.loads(sys.argv[2]))
clf.classify(np.zeros((clf.size[0], clf.size[1], 3), np.uint8))
t1 = time.perf_counter()
print(json.dumps({"cold_s": t1 - t0, "tf_imported": any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules)}))
"""


def bare_litert(path: Path, x: np.ndarray):  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run() -> None:
        it.set_tensor(i, x)
        it.invoke()
        it.get_tensor(o)

    return run


def bare_onnx(path: Path, x: np.ndarray):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return lambda: s.run(None, {name: x})


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=50, help="invocations per round and side")
    ap.add_argument("--options", default="{}", help="JSON Classifier.load options for models without contract")
    ap.add_argument("--jpeg", required=True, help="a photo for the decode path (e.g. one of the flowers)")
    ap.add_argument("--out", help="write the JSON here as well")
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info
    from edgetl.runtime import Classifier
    from edgetl.runtime.image import load_rgb

    rows = []
    for m in map(Path, args.models):
        opts = json.loads(args.options)
        clf = Classifier.load(m, threads=1, **opts)
        x = np.random.default_rng(0).integers(0, 255, clf.input_shape).astype(clf.input_dtype)
        pixels = np.asarray(load_rgb(args.jpeg, clf.size))  # decoded, at the model's size
        bare = (bare_onnx if m.suffix == ".onnx" else bare_litert)(m, x)
        loops = {"bare": bare, "classify_array": lambda: clf.classify(pixels, top_k=3),
                 "classify_jpeg": lambda: clf.classify(args.jpeg, top_k=3),
                 "decode": lambda: load_rgb(args.jpeg, clf.size)}
        for fn in loops.values():
            timed(fn, 20)  # warm-up
        got: dict[str, list[float]] = {k: [] for k in loops}
        for r in range(args.rounds):
            for k in (list(loops) if r % 2 == 0 else list(loops)[::-1]):
                got[k] += timed(loops[k], args.runs)
        med = {k: statistics.median(v) for k, v in got.items()}
        cold = [json.loads(subprocess.run([sys.executable, "-c", COLD, str(m), args.options], capture_output=True,
                                          text=True, check=True).stdout.strip().splitlines()[-1]) for _ in range(5)]
        row = {"model": m.name, "backend": f"{clf.backend_name} {clf.backend_version}",
               "input_dtype": str(clf.input_dtype), **{f"{k}_p50_ms": round(v, 4) for k, v in med.items()},
               "ratio_array": round(med["classify_array"] / med["bare"], 4),
               "ratio_jpeg": round(med["classify_jpeg"] / med["bare"], 4),
               "cold_start_s_median": round(statistics.median(c["cold_s"] for c in cold), 3),
               "tensorflow_imported": any(c["tf_imported"] for c in cold)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    doc = {"script": "benchmarks/runtime_overhead.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "jpeg": Path(args.jpeg).name, "rounds": args.rounds, "runs_per_round": args.runs, "rows": rows}
    print(json.dumps(doc, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
