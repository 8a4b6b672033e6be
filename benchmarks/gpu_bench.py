"""The GPU rows: edgetl bench on a lent NVIDIA machine, with the execution providers that actually ran.

Run on the GPU machine from the repository root (nothing there can be downloaded: onnxruntime-gpu comes as
a wheel split into parts under .gpu/, carried over several calls; the models and a labeled photo subset
are carried in .gpu/models and .gpu/data):

    python3 benchmarks/gpu_bench.py --parts .gpu --models .gpu/models --data .gpu/data --out $OUT

Rows: cuda-gpu (CUDA provider, batch 1), cuda-gpu-batch (CUDA, batch 32: throughput), tensorrt-fp16 and
tensorrt-int8 (TensorRT provider, where TensorRT is installed: otherwise the row says so), host-onnx (this
machine's CPU). Each row names the providers ONNX Runtime registered and how many graph nodes each ran
(one profiled call); a requested provider that failed to load makes the row fail instead of reporting a
CPU result. Writes gpu_bench.json (committed under benchmarks/results/gpu/).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "benchmarks" / "gpu_profiles"


def install_wheel(parts: Path) -> Path:
    target = Path("/tmp/ortgpu")
    if not (target / "onnxruntime").is_dir():
        whl = Path("/tmp/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl")
        with open(whl, "wb") as out:
            for p in sorted(glob.glob(str(parts / "ortgpu.whl.part*"))):
                out.write(Path(p).read_bytes())
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(whl)],
                       check=True)
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default=".gpu")
    ap.add_argument("--models", default=".gpu/models")
    ap.add_argument("--data", default=".gpu/data")
    ap.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results/gpu"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reuse", action="store_true", help="collect the rows of an earlier run on this machine")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    ort_dir = install_wheel(Path(args.parts))
    env = {**os.environ, "PYTHONPATH": f"{ort_dir}:{REPO}", "EDGETL_QUIET_NATIVE": "1"}
    probe = subprocess.run([sys.executable, "-c", "import onnxruntime as o; o.preload_dlls(); import json; "
                            "print(json.dumps([o.__version__, o.get_available_providers()]))"],
                           capture_output=True, text=True, env=env)
    version, available = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else ("?", [])
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip().split(", ")
    models = sorted(str(p) for p in Path(args.models).glob("*.onnx"))
    runs = [(["--device", "host-onnx", "--device", "cuda-gpu", "--device", str(PROFILES / "tensorrt-fp16.yaml"),
              "--device", str(PROFILES / "tensorrt-int8.yaml")], 1),
            (["--device", str(PROFILES / "cuda-gpu-batch.yaml")], args.batch)]
    rows = []
    for devs, batch in runs:
        t0 = time.perf_counter()
        prev = Path(f"/tmp/gpu-bench-{batch}/bench.json")
        if args.reuse and prev.is_file():
            rows += [{**r, "batch": batch} for r in json.loads(prev.read_text())["rows"]]
            continue
        p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "bench", *models, *devs, "--data", args.data,
                            "--batch", str(batch), "--repetitions", "3", "--out", f"/tmp/gpu-bench-{batch}", "--json"],
                           capture_output=True, text=True, env=env)
        if p.returncode not in (0, 1):
            print(p.stderr[-3000:], file=sys.stderr)
            continue
        for r in json.loads(p.stdout)["rows"]:
            rows.append({**r, "batch": batch})
        print(f"batch {batch}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for r in rows:
        r["artifact"] = Path(r["artifact"]).name
    from edgetl.bench.fingerprint import machine_info

    doc = {"script": "benchmarks/gpu_bench.py", "date": time.strftime("%Y-%m-%d"), "gpu": smi[0] if smi else "?",
           "driver": smi[1] if len(smi) > 1 else "?", "onnxruntime": version, "available_providers": available,
           "machine": machine_info(), "rows": rows}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_bench.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    for r in rows:
        print(r["device"], r["target"], r["batch"], r["status"], r.get("p50_ms"), r.get("throughput_ips"),
              r.get("providers"), r.get("node_providers"), (r.get("reason") or "")[:120])


if __name__ == "__main__":
    main()
