"""The headline table: every exported format of one run on this host, 1 and 2 threads, vs the compute floor.

Latency and accuracy come from ``edgetl bench`` (profiles host-cpu for TFLite, host-onnx for ONNX, both
with their threads overridden to 1 and 2). The compute floor is each artifact's own FLOPs (2 x the
multiply-accumulates that ``edgetl inspect`` counts in that file) divided by this machine's single-thread
SGEMM peak (numpy/OpenBLAS, 2048x2048 float32, best of 7, measured in a child process with one BLAS thread
and OpenBLAS free to pick its best kernel), times the thread count.

The whole table is measured twice, one run after the other, with the benchmark protocol (interleaved
repetitions, median of medians, noise check): the second run's p50 and the difference are in each row, and
a row that the protocol marked unreliable says why.

    python benchmarks/headline.py runs/flowers --out benchmarks/results
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SGEMM = """
import time, numpy as np
n = 2048
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32); b = a.copy()
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(7))
print(2 * n**3 / best / 1e9)
"""


def sgemm_gflops() -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_CORETYPE") and k != "OPENBLAS_L2_SIZE"}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SGEMM], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--repeat", type=int, default=2, help="whole-table repeats, to show run-to-run agreement")
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info
    from edgetl.bench.runner import ROW_FIELDS, collect, run_bench
    from edgetl.devices import load_profile

    peak = sgemm_gflops()
    arts = collect([args.run_dir])
    devices = [load_profile("host-cpu"), load_profile("host-onnx")]
    reps = []
    from edgetl.analysis.inspect_model import analyze

    mflop = {str(a.path): 2 * analyze(a.path).macs / 1e6 for a in arts}
    for i in range(args.repeat):
        rows = run_bench(arts, devices, data_dir=None, out_dir=Path(tempfile.gettempdir()) / "edgetl-headline",
                         threads=[1, 2],
                         progress=lambda m: print(f"[{i + 1}/{args.repeat}] {m}", file=sys.stderr))
        reps.append([r for r in rows if r["status"] == "ok"])
        # only the OK rows: a row that fails says so in the bench report
    table = []
    for r in reps[0]:
        model_mflop = mflop[r["artifact"]]
        floor_ms = model_mflop / 1e3 / (peak * r["threads"]) * 1e3
        again = [x for rep in reps[1:] for x in rep if (x["artifact"], x["device"], x["threads"]) ==
                 (r["artifact"], r["device"], r["threads"])]
        table.append({"target": r["target"], "device": r["device"], "threads": r["threads"], "p50_ms": r["p50_ms"],
                      "p90_ms": r["p90_ms"], "p99_ms": r["p99_ms"], "accuracy": r["accuracy"],
                      "top1_agreement": r["top1_agreement"], "size_mb": round(r["size_bytes"] / 1e6, 2),
                      "model_mflop": round(model_mflop, 1), "achieved_gflops": round(model_mflop / r["p50_ms"], 1),
                      "reliable": r.get("reliable"), "unreliable_reason": r.get("unreliable_reason"),
                      "p50_spread_pct": r.get("p50_spread_pct"),
                      "reliable_repeat": [x.get("reliable") for x in again],
                      "speed_probe_ms": r.get("speed_probe_ms"),
                      "speed_probe_ms_repeat": [x.get("speed_probe_ms") for x in again],
                      "floor_ms": round(floor_ms, 3), "x_floor": round(r["p50_ms"] / floor_ms, 2),
                      "p50_ms_repeat": [x["p50_ms"] for x in again],
                      "repeat_diff_pct": [round(100 * abs(x["p50_ms"] - r["p50_ms"]) / r["p50_ms"], 1) for x in again]})
    info = {"date": time.strftime("%Y-%m-%d"), "machine": machine_info(), "sgemm_1thread_gflops": round(peak, 1),
            "run": str(args.run_dir), "script": "benchmarks/headline.py", "protocol": "interleaved repetitions"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "headline.json").write_text(json.dumps({"info": info, "rows": table}, indent=2) + "\n")
    cols = ["target", "device", "threads", "p50_ms", "p90_ms", "p99_ms", "accuracy", "top1_agreement", "size_mb",
            "achieved_gflops", "x_floor", "repeat_diff_pct"]
    md = [f"Measured {info['date']} on {info['machine']['cpu']} ({info['machine']['cores']} cores, "
          f"{platform.machine()}); single-thread SGEMM peak {peak:.1f} GFLOP/s; compute floor = "
          "the artifact's counted FLOPs / (peak x threads).", "",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for t in table:
        md.append("| " + " | ".join(str(t[c]) for c in cols) + " |")
    (out / "headline.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
