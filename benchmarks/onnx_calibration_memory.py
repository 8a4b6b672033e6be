"""Peak memory of ONNX Runtime's static int8 calibration, all images at once vs in edgetl's chunks.

    python benchmarks/onnx_calibration_memory.py RUN_DIR [--images 200]

ONNX Runtime's calibrators run the augmented model (every intermediate tensor an output) and, given the
images in one call, keep every output of every image before reducing them. edgetl hands them over in chunks
(``CalibStridedMinMax``, ``edgetl/formats/onnx/int8.py``). For each calibration method this measures, in a
fresh process each, the peak resident memory (``ru_maxrss``) and the wall time of ``quantize_onnx`` on the
run's float ONNX model with ``--images`` calibration images, chunked (edgetl) and unchunked (one chunk of all
images), and writes benchmarks/results/onnx_calibration_memory.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import edgetl.formats.onnx.int8 as P
from edgetl import ExportConfig
from edgetl.api import find_stage
from edgetl.formats.onnx.export import _float
from edgetl.export.stages import ExportInputs

run, images, method, chunked = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
cfg = ExportConfig(targets=("onnx:int8",), calibration_images=images)
shared = ExportInputs.open(find_stage(Path(run), "train"), cfg)
f, pixels = _float(shared, cfg), shared.calibration
if not chunked:
    P._chunk = lambda n: n  # noqa: E731 - one chunk: what ONNX Runtime does without CalibStridedMinMax
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
P.quantize_onnx(f, mode="static", pixels=pixels, per_channel=True, calibrate_method=method)
print(json.dumps({"method": method, "chunked": chunked, "images": len(pixels),
                  "chunk": P._chunk(len(pixels)), "seconds": round(time.perf_counter() - t, 1),
                  "peak_rss_gib_before": round(before / 2**20, 2),
                  "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "onnx_calibration_memory.json"))
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info

    rows = []
    for method in ("minmax", "percentile", "entropy"):
        for chunked in (True, False):
            p = subprocess.run([sys.executable, "-c", CHILD, args.run_dir, str(args.images), method,
                                "1" if chunked else "0"], capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(f"{method} chunked={chunked} failed:\n{p.stderr[-3000:]}")
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    train = json.loads(next(Path(args.run_dir).glob("train-*/metrics.json")).read_text())
    doc = {"script": "benchmarks/onnx_calibration_memory.py", "date": time.strftime("%Y-%m-%d"),
           "machine": machine_info(), "model": train["model"]["backbone"],
           "input_size": train["model"]["input_size"], "rows": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
