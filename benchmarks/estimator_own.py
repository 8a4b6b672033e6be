"""Calibration from one's own measurements, validated on this machine: leave one model out.

    python benchmarks/estimator_own.py [--work DIR] [--out benchmarks/results/estimator_own.json]

1. Builds MobileNetV2 at widths 0.35, 0.75 and 1.0, EfficientNet-Lite0 and ResNet50 (224x224, 1000 classes,
   random weights: latency does not depend on them) and exports each to TFLite fp32 and int8 with the product's
   converter (int8 calibrated on 16 random images).
2. Times the 10 files on this host at 1 and 2 threads with ``edgetl bench`` (the README's protocol: interleaved
   repetitions), through a profile that describes this CPU the way a user describes a board (cores, clock, and
   the AVX-512 peak, as x86 cores have no published anchors).
   Two whole sessions (``--runs``): this VM's speed moves between sessions, so each is calibrated on its own,
   and the sessions together too (each row's p50 the mean of its sessions').
3. ``edgetl calibrate`` on those rows: the calibration is refitted without each model in turn and that model's
   four rows (fp32/int8 x 1/2 threads) are predicted; the raw file keeps every prediction next to its measurement,
   and the uncalibrated (published-fit) estimate for comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def models() -> dict:
    import keras

    sys.path.insert(0, str(REPO / "benchmarks"))
    from anchor_models import lite0

    A = keras.applications
    return {"mobilenet_v2_0.35": lambda: A.MobileNetV2(weights=None, alpha=0.35, input_shape=(224, 224, 3)),
            "mobilenet_v2_0.75": lambda: A.MobileNetV2(weights=None, alpha=0.75, input_shape=(224, 224, 3)),
            "mobilenet_v2_1.0": lambda: A.MobileNetV2(weights=None, alpha=1.0, input_shape=(224, 224, 3)),
            "efficientnet_lite0": lite0,
            "resnet50": lambda: A.ResNet50(weights=None, input_shape=(224, 224, 3))}


def export(work: Path) -> list[Path]:
    from edgetl.formats.tflite.convert import keras_to_saved_model, saved_model_to_tflite

    rng = np.random.default_rng(0)
    reps = [rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32) for _ in range(16)]
    files = []
    for name, build in models().items():
        for prec in ("fp32", "int8"):
            f = work / f"{name}_{prec}.tflite"
            files.append(f)
            if f.is_file():
                continue
            sm = work / f"{name}_saved"
            if not sm.exists():
                keras_to_saved_model(build(), sm, input_size=224)
            data = saved_model_to_tflite(sm, prec, representative=(lambda: ([r] for r in reps)) if prec == "int8"
                                         else None)
            f.with_suffix(".tmp").write_bytes(data)
            f.with_suffix(".tmp").replace(f)
            print(f"exported {f.name} ({len(data) / 2**20:.1f} MiB)", flush=True)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgetl-estimator-own"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "estimator_own.json")
    ap.add_argument("--runs", type=int, default=2, help="whole bench sessions, each calibrated on its own")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    files = export(args.work)
    prof = args.work / "this-host.yaml"
    prof.write_text(json.dumps({
        "name": "this-host", "description": "the 2-vCPU VM that ran this script", "runtime": "litert",
        "threads": [1, 2], "hardware": {"core": "x86-64 (AVX-512)", "cores": 2, "clock_ghz": 2.1,
                                        "peak_gflops_fp32": 268.8, "note": "2 cores x 2.1 GHz x 2 AVX-512 FMA x 16 lanes x 2"}}))
    from edgetl.analysis.compat import precision_of
    from edgetl.analysis.estimate import estimate_for
    from edgetl.analysis.inspect_model import analyze
    from edgetl.devices import load_profile

    reports = {f: analyze(f) for f in files}  # each file read once, for every session

    base = load_profile(str(prof))
    runs = []
    for k in range(1, args.runs + 1):  # whole bench sessions: this VM's speed moves between them
        bench_json = args.work / f"bench{k}.json"
        wall = args.work / f"bench{k}_wall_s.txt"
        if not bench_json.is_file():
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "bench", *map(str, files), "--device",
                                str(prof), "--out", str(args.work / f"report{k}"), "--json"], capture_output=True,
                               text=True)
            if p.returncode not in (0, 1):
                sys.exit(p.stderr[-3000:])
            bench_json.write_text(p.stdout)
            wall.write_text(f"{time.perf_counter() - t0:.1f}")
        p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "calibrate", str(bench_json), "--device",
                            str(prof), "--out", str(args.work / f"this-host-calibrated{k}.yaml"), "--json"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(p.stderr[-3000:] + p.stdout[-2000:])
        cal = json.loads(p.stdout)
        rows = [r for r in json.loads(bench_json.read_text())["rows"] if r["status"] == "ok"]
        uncal = []
        for r in rows:
            rep = reports[Path(r["artifact"])]
            est, _ = estimate_for(rep, base, precision_of(rep), r["threads"])
            uncal.append({"artifact": Path(r["artifact"]).name, "threads": r["threads"], "measured_ms": r["p50_ms"],
                          "reliable": r.get("reliable"), "published_fit_ms": est["p50_ms"] if est else None})
        ape = [abs(u["published_fit_ms"] / u["measured_ms"] - 1) for u in uncal if u["published_fit_ms"]]
        runs.append({"run": k, "bench_wall_s": float(wall.read_text()) if wall.is_file() else None,
                     "measurements": uncal, "calibration": cal["calibration"], "models": cal["models"],
                     "leave_one_model_out": cal["leave_one_model_out"],
                     "published_fit_median_ape": round(float(np.median(ape)), 4) if ape else None})
        c = cal["calibration"]
        print(f"run {k}: {len(rows)} rows; leave-one-model-out median error "
              f"{c.get('leave_one_model_out_median_ape')}; published fit alone {runs[-1]['published_fit_median_ape']}",
              flush=True)
    # the sessions together: each row's p50 is the mean of its sessions' p50s (what measuring longer gives)
    sessions = [json.loads((args.work / f"bench{r['run']}.json").read_text())["rows"] for r in runs]
    pooled_rows = []
    for row in sessions[0]:
        same = [x["p50_ms"] for rows_k in sessions for x in rows_k if x["artifact"] == row["artifact"]
                and x["threads"] == row["threads"] and x["status"] == "ok"]
        if row["status"] == "ok" and len(same) == len(sessions):
            pooled_rows.append({**row, "p50_ms": float(np.mean(same))})
    pooled_json = args.work / "bench_pooled.json"
    pooled_json.write_text(json.dumps({"rows": pooled_rows}))
    p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "calibrate", str(pooled_json), "--device", str(prof),
                        "--out", str(args.work / "this-host-calibrated.yaml"), "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(p.stderr[-3000:] + p.stdout[-2000:])
    pooled = json.loads(p.stdout)
    print(f"pooled: leave-one-model-out median error {pooled['calibration'].get('leave_one_model_out_median_ape')}")
    out = {"script": "benchmarks/estimator_own.py", "date": str(date.today()), "runs": runs,
           "pooled": {"sessions": len(runs), "calibration": pooled["calibration"], "models": pooled["models"],
                      "leave_one_model_out": pooled["leave_one_model_out"]},
           "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "python": sys.version.split()[0]}}
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
