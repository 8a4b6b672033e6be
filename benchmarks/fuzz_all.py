"""The full fuzzing run: N cases per loader (default 10,000), with counts, time and any failures.

    python benchmarks/fuzz_all.py --cases 10000 --shared ../shared
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info

    out: dict[str, object] = {"script": "benchmarks/fuzz_all.py", "date": time.strftime("%Y-%m-%d"),
                              "machine": machine_info(), "cases_per_loader": args.cases}
    env = {**os.environ, "EDGETL_FUZZ_EXAMPLES": str(args.cases), "EDGETL_SHARED": args.shared}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz/test_fuzz_loaders.py",
                        "tests/fuzz/test_fuzz_structured.py"], cwd=REPO, env=env, capture_output=True, text=True)
    out["pure_python_loaders"] = {"loaders": ["tflite flatbuffer reader", "contract JSON", "YAML configs",
                                              "device profiles", "images", "external-data locations",
                                              "YAML anchors and nesting", "declared image sizes", "printed text",
                                              "class names"], "pytest_rc": p.returncode,
                                  "summary": p.stdout.strip().splitlines()[-1], "seconds": round(time.perf_counter() - t)}
    sys.path.insert(0, str(REPO))
    from tests.fuzz.test_fuzz_native import _tiny_onnx

    with tempfile.TemporaryDirectory() as d:
        import keras

        inp = keras.Input((8, 8, 3))
        keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp)))).save(
            Path(d) / "tiny.keras")
        seeds = {"tflite": (Path(args.shared) / "models/tf2_mobilenet_v2_1.0_224_ptq.tflite", {"mean": 127.5, "std": 127.5}),
                 "onnx": (_tiny_onnx(Path(d) / "tiny.onnx"), {"mean": 0.0, "std": 1.0}),
                 "keras": (Path(d) / "tiny.keras", {})}
        for kind, (seed, opts) in seeds.items():
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "tests.fuzz.native_fuzz", kind, str(seed), str(args.cases),
                                json.dumps(opts)], cwd=REPO, capture_output=True, text=True)
            res = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {
                "crashed": p.returncode, "at": [l for l in p.stderr.splitlines() if l.startswith("case ")][-1:]}
            out[f"native_{kind}"] = {**res, "seconds": round(time.perf_counter() - t)}
            print(kind, json.dumps(out[f"native_{kind}"]), flush=True)
    Path(REPO / "benchmarks/results").mkdir(parents=True, exist_ok=True)
    (REPO / "benchmarks/results/fuzz_full.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
