"""Feature extraction on Ray against the local path, on the flowers main job's train stage.

    python benchmarks/ray_features.py --shared ../shared [--out benchmarks/results/ray_features.json]

Runs ``edgetl train --config examples/flowers.yaml`` four times, each from a fresh cache and run folder:
locally (TensorFlow on every core), and with ``--ray auto`` against a local cluster started with the real
``ray start --head`` in three shapes: one worker process with 1 CPU, two worker processes with 1 CPU
each, one worker process with 2 CPUs (the same cores as the local run). It records the wall time, the
feature-extraction time, the accuracy and the per-shard records the Ray path writes into metrics.json,
compares every model's weights with the local one, and fits the scaling model

    T(N workers) = start_s + ceil(shards / N) * (overhead_per_shard_s + per_image_s * shard_images)

on the one-worker run, then checks its prediction for two workers against the two-worker run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))


def train(shared: Path, work: Path, name: str, ray: str | None, worker_cpus: int) -> dict:
    run, cache = work / f"run-{name}", work / f"cache-{name}"
    cmd = [sys.executable, "-m", "edgetl.cli.main", "train", "--config", str(REPO / "examples" / "flowers.yaml"),
           "--data", str(shared / "datasets" / "flowers"), "--weights-dir", str(shared / "weights"),
           "--out", str(run), "--json"]
    if ray:
        cmd += ["--ray", ray, "--set", f"ray_worker_cpus={worker_cpus}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "EDGETL_CACHE_DIR": str(cache)})
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout)
    metrics = json.loads((Path(summary["stage_dir"]) / "metrics.json").read_text())
    shutil.rmtree(cache, ignore_errors=True)
    return {"name": name, "ray": ray, "worker_cpus": worker_cpus if ray else None, "wall_s": round(wall, 1),
            "timings_s": metrics["timings_s"], "val_top1": metrics["validation"]["top1"],
            "test_top1": metrics.get("test", {}).get("top1"), "strategy": metrics["strategy"]["strategy"],
            "ray_stats": metrics.get("ray"), "model": summary["model"]}


def cluster(cpus: int) -> None:
    subprocess.run([RAY, "stop", "--force"], capture_output=True)
    subprocess.run([RAY, "start", "--head", f"--num-cpus={cpus}", "--include-dashboard=false",
                    "--disable-usage-stats"], check=True, capture_output=True)


def max_weight_diff(a: str, b: str) -> float:
    import keras
    import numpy as np

    wa, wb = keras.saving.load_model(a).get_weights(), keras.saving.load_model(b).get_weights()
    return max(float(np.max(np.abs(x - y))) for x, y in zip(wa, wb))


def scaling(one: dict, shard_images: int, shards: int) -> dict:
    recs = one["shard_records"]
    work = sum(r["decode_s"] + r["predict_s"] for r in recs)
    per_image = work / sum(r["images"] for r in recs)
    overhead = sum(r["wall_s"] - r["decode_s"] - r["predict_s"] for r in recs) / len(recs)
    model = {"start_s": one["start_s"], "per_image_s": round(per_image, 5), "overhead_per_shard_s": round(overhead, 4),
             "shard_images": shard_images}

    def t(n: int, images: int) -> float:
        s = math.ceil(images / shard_images)
        return model["start_s"] + math.ceil(s / n) * (overhead + per_image * shard_images)

    images = sum(r["images"] for r in recs)
    model["predict_flowers_s"] = {str(n): round(t(n, images), 1) for n in (1, 2, 4, 8, 16)}
    model["predict_500k_images_h"] = {str(n): round(t(n, 500_000) / 3600, 2) for n in (1, 2, 4, 8, 16, 32)}
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ray_features.json"))
    args = ap.parse_args()
    shared = Path(args.shared).resolve()
    work = Path(tempfile.mkdtemp(prefix="edgetl-ray-bench-"))
    runs = []
    try:
        runs.append(train(shared, work, "local", None, 0))
        print(json.dumps(runs[-1])[:400], flush=True)
        for name, head_cpus, worker_cpus in (("ray-1x1cpu", 1, 1), ("ray-2x1cpu", 2, 1), ("ray-1x2cpu", 2, 2)):
            cluster(head_cpus)
            runs.append(train(shared, work, name, "auto", worker_cpus))
            print(json.dumps(runs[-1])[:400], flush=True)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True)
    local = runs[0]
    for r in runs[1:]:
        r["max_weight_diff_vs_local"] = max_weight_diff(local["model"], r["model"])
        r["features_overhead_vs_local"] = round(r["timings_s"]["features_s"] / local["timings_s"]["features_s"] - 1, 3)
        r["wall_overhead_vs_local"] = round(r["wall_s"] / local["wall_s"] - 1, 3)
    one, two = runs[1]["ray_stats"], runs[2]["ray_stats"]
    model = scaling(one, one["shard_images"], one["shards"])
    model["check_2_workers"] = {"predicted_s": model["predict_flowers_s"]["2"], "measured_s": two["total_s"],
                                "error": round(model["predict_flowers_s"]["2"] / two["total_s"] - 1, 3)}
    from edgetl.bench.fingerprint import machine_info

    doc = {"script": "benchmarks/ray_features.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "command": "edgetl train --config examples/flowers.yaml [--ray auto --set ray_worker_cpus=N]",
           "runs": runs, "scaling_model": model}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(model, indent=1))


if __name__ == "__main__":
    main()
