"""Each artifact of real runs in the clients apps load it with (MediaPipe Tasks, onnx.checker, OpenVINO).

    python benchmarks/clients.py --run image=RUN_DIR --run text=RUN_DIR [--targets ...] [--out X.json]

Exports each run to every default target with the current code (edgetl[clients] installed, so the export
stage loads every file in every client that applies), then keeps, per artifact and client: status,
agreement with edgetl's runtime on the same input, MediaPipe's agreement on the photos with its own resize,
the number of validation items, and the client's words when it refused. RESULTS.md's "Clients" section is
generated from the raw file (results.py). Runs the main job made (``benchmarks/main_job.py --run-dir``) and a
text run (``benchmarks/quant_matrix.py``'s trec6_ft) are the usual inputs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_TARGETS = "tflite:fp32,tflite:fp16,tflite:dynamic,tflite:int8,tflite:uint8,onnx:fp32,onnx:fp16,onnx:int8"
TEXT_TARGETS = "tflite:fp32,tflite:dynamic,tflite:int8,tflite:int16,onnx:fp32,onnx:int8"


def _git(*cmd: str) -> str:
    return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=REPO).stdout.strip()


def export_rows(run: Path, targets: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "export", str(run), "--to", targets, "--json"],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if not out.stdout.strip():
        raise SystemExit(f"edgetl export {run} printed nothing (exit {out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)["artifacts"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (a trained run), repeatable")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "clients.json"))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from edgetl.bench.fingerprint import machine_info
    from edgetl.export.clients import versions

    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "edgetl"))
    runs = []
    for spec in args.run:
        name, _, path = spec.partition("=")
        t0 = time.perf_counter()
        metrics = next(Path(path).glob("train-*/metrics.json"))
        kind = json.loads(metrics.read_text()).get("kind", "image")
        report = Path(path) / "export_report.json"
        done = json.loads(report.read_text())["artifacts"] if report.is_file() else []
        wanted = (TEXT_TARGETS if kind == "text" else IMAGE_TARGETS).split(",")
        if set(wanted) <= {r["target"] for r in done} and all(r.get("clients") for r in done):
            rows, how = done, "the run's own export_report.json"  # exported with the clients (the main job's run)
        else:
            rows, how = export_rows(Path(path), ",".join(wanted)), "exported here"
        runs.append({"name": name, "kind": kind, "run_dir": path, "rows_from": how,
                     "seconds": round(time.perf_counter() - t0, 1),
                     "artifacts": [{"target": r["target"], "status": r["status"], "use": r.get("use"),
                                    "validation_items": r.get("images"), "clients": r.get("clients") or []}
                                   for r in rows]})
        for r in rows:
            for c in r.get("clients") or []:
                print(f"{name} {r['target']:<15} {c['client']:<28} {c['status']:<10} agree {c.get('agreement')} "
                      f"own-resize {c.get('own_resize_agreement')} n={c.get('items')}", flush=True)
    doc = {"script": "benchmarks/clients.py", "date": time.strftime("%Y-%m-%d"), "commit": commit,
           "edgetl_modified_since_commit": dirty, "machine": machine_info(), "client_versions": versions(),
           "runs": runs}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
