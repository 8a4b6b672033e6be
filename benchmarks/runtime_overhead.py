"""edgetl.runtime overhead: ``Classifier.scores_from_input`` vs a bare interpreter ``invoke()``, and cold start.

Both loops run the same model on the same preprocessed input with one thread, interleaved in rounds so
that machine noise hits both alike; the ratio is median(classify) / median(bare). Cold start is measured
in fresh processes: import edgetl.runtime + load + first result, with a check that TensorFlow was never
imported.

    python benchmarks/runtime_overhead.py MODEL.tflite [MODEL.onnx ...]
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
    args = ap.parse_args()
    from edgetl.runtime import Classifier

    rows = []
    for m in map(Path, args.models):
        opts = json.loads(args.options)
        clf = Classifier.load(m, threads=1, **opts)
        x = np.random.default_rng(0).integers(0, 255, clf.input_shape).astype(clf.input_dtype)
        bare = (bare_onnx if m.suffix == ".onnx" else bare_litert)(m, x)
        ours = lambda: clf.scores_from_input(x)  # noqa: E731
        for fn in (bare, ours):
            timed(fn, 20)  # warm-up
        b_all, c_all = [], []
        for _ in range(args.rounds):
            b_all += timed(bare, args.runs)
            c_all += timed(ours, args.runs)
        cold = [json.loads(subprocess.run([sys.executable, "-c", COLD, str(m), args.options], capture_output=True,
                                          text=True, check=True).stdout.strip().splitlines()[-1]) for _ in range(5)]
        row = {"model": m.name, "backend": f"{clf.backend_name} {clf.backend_version}",
               "bare_p50_ms": round(statistics.median(b_all), 3), "classify_p50_ms": round(statistics.median(c_all), 3),
               "ratio": round(statistics.median(c_all) / statistics.median(b_all), 3),
               "cold_start_s_median": round(statistics.median(c["cold_s"] for c in cold), 3),
               "tensorflow_imported": any(c["tf_imported"] for c in cold)}
        rows.append(row)
        print(json.dumps(row))
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} cores",
                      "python": platform.python_version()}))


if __name__ == "__main__":
    main()
