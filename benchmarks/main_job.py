"""The README's main job, timed from cold caches, with everything it reports kept as one raw file.

    python benchmarks/main_job.py --shared ../shared [--out benchmarks/results/main_job.json]

Runs ``edgetl pipeline examples/flowers.yaml`` with the README's --set options into a fresh run folder
and a fresh cache, then writes the wall time, the pipeline summary, the training metrics (strategy,
timings, accuracy), every export row and the benchmark rows, with the date, the machine and the versions.
RESULTS.md's "Main job" section and the README's figures are generated from that file (results.py).
It also keeps every stderr line that a library wrote rather than edgetl (TensorFlow, absl, Keras, LiteRT, ONNX
Runtime, the converters): without -v there must be none (issue 34).
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
# what a library's own line looks like: absl/glog prefixes, TensorFlow's and the converters' words, LiteRT's INFO
LIBRARY_LINE = (r"^[IWEF]\d{4} |^WARNING: All log messages|^INFO: |^WARNING:(absl|tensorflow)|tensorflow/|oneDNN|"
                r"fully_quantize|XNNPACK delegate|onnxruntime.*(warning|error)|^\[W:onnxruntime|tf2onnx|Epoch \d+/|"
                r"/step\b|retracing")


def library_lines(stderr: str) -> list[str]:
    import re

    pat = re.compile(LIBRARY_LINE)
    return [line[:300] for line in stderr.splitlines() if pat.search(line)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "main_job.json"))
    ap.add_argument("--run-dir", help="default: a fresh temporary folder")
    ap.add_argument("--recollect", action="store_true",
                    help="rebuild the raw file from the run folder of the last timed run (--run-dir), keeping its "
                         "wall time and exit code; for a change in what is collected, not in what ran")
    args = ap.parse_args()
    shared = Path(args.shared).resolve()
    if args.recollect and not args.run_dir:
        sys.exit("--recollect needs --run-dir: the folder of the timed run")
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="edgetl-main-job-")) / "flowers"
    cache = Path(tempfile.mkdtemp(prefix="edgetl-main-job-cache-"))
    cmd = [sys.executable, "-m", "edgetl.cli.main", "pipeline", str(REPO / "examples" / "flowers.yaml"),
           "--set", f"train.data={shared / 'datasets' / 'flowers'}", "--set", f"train.weights_dir={shared / 'weights'}",
           "--set", f"run_dir={run_dir}", "--json"]
    env = {**os.environ, "EDGETL_CACHE_DIR": str(cache)}
    if args.recollect:
        old = json.loads(Path(args.out).read_text())
        wall, code, summary = old["wall_s"], old["exit_code"], old["summary"]
        noise = old.get("stderr_library_lines")
    else:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall, code = time.perf_counter() - t0, proc.returncode
        if code not in (0, 1):
            sys.exit(f"the main job failed ({code}):\n{proc.stderr[-3000:]}")
        summary = json.loads(proc.stdout)
        noise = library_lines(proc.stderr)
    report = json.loads((run_dir / "pipeline_report.json").read_text())
    metrics = json.loads((Path(report["train"]["stage_dir"]) / "metrics.json").read_text())
    bench = json.loads((run_dir / "bench" / "bench.json").read_text()) if (run_dir / "bench").exists() else None
    from edgetl.bench.fingerprint import machine_info

    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO).stdout.strip()  # noqa: E731
    doc = {"script": "benchmarks/main_job.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "commit": git("rev-parse", "--short", "HEAD"),
           "edgetl_modified_since_commit": bool(git("status", "--porcelain", "--untracked-files=no", "--", "edgetl")),
           "command": "edgetl pipeline examples/flowers.yaml --set train.data=../shared/datasets/flowers "
                      "--set train.weights_dir=../shared/weights",
           "exit_code": code, "wall_s": round(wall, 1), "summary": summary, "run_dir": str(run_dir),
           "train": {k: metrics[k] for k in ("validation", "test", "strategy", "fine_tune", "timings_s", "data",
                                             "model", "versions") if k in metrics},
           "exports": report["exports"], "bench": bench, "stderr_library_lines": noise}
    for split in ("validation", "test"):
        doc["train"].get(split, {}).pop("per_class", None)
    Path(args.out).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"wrote {args.out}: wall {wall:.0f} s, exit {code}")


if __name__ == "__main__":
    main()
