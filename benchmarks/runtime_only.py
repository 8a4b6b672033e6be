"""A runtime-only environment (no TensorFlow) classifies the validation photos like the full one.

    python benchmarks/runtime_only.py RUN_DIR [--out benchmarks/results/runtime_only.json]

Builds a fresh virtual environment with ``pip install ".[runtime]"`` only (numpy, Pillow, LiteRT, ONNX
Runtime), checks that TensorFlow is not importable there, classifies every validation photo of RUN_DIR with
each artifact in ``RUN_DIR/artifacts`` through ``edgetl predict --json``, and compares the top-1 labels with
the Keras model's (from the run's reference stage) and with the same artifact in this environment.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "runtime_only.json"))
    args = ap.parse_args()
    run = Path(args.run_dir)
    split = json.loads(next(run.glob("train-*/split.json")).read_text())
    classes = json.loads(next(run.glob("train-*/metrics.json")).read_text())["data"]["classes"]
    ref = np.load(sorted(run.glob("reference-*/reference.npz"))[-1])
    keras_top1 = [classes[i] for i in ref["probs"].argmax(1)]
    venv = Path(tempfile.mkdtemp(prefix="edgetl-runtime-only-")) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"{REPO}[runtime]"], check=True)
    tf = subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True)
    from edgetl.runtime import Classifier

    rows = []
    for model in sorted((run / "artifacts").glob("model_*.*")):
        if model.suffix == ".json":
            continue
        p = subprocess.run([str(venv / "bin" / "edgetl"), "predict", str(model), *split["val"], "--json", "--top-k", "1"],
                           capture_output=True, text=True)
        got = [r.get("label") for r in json.loads(p.stdout)]
        here = Classifier.load(model)
        mine = [here.classify(x, top_k=1)[0].label for x in split["val"]]
        rows.append({"artifact": model.name, "images": len(got),
                     "agreement_with_keras": round(float(np.mean([a == b for a, b in zip(got, keras_top1)])), 4),
                     "agreement_with_full_environment": round(float(np.mean([a == b for a, b in zip(got, mine)])), 4)})
        print(json.dumps(rows[-1]), flush=True)
    from edgetl.bench.fingerprint import machine_info

    doc = {"script": "benchmarks/runtime_only.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "install": 'pip install ".[runtime]"', "tensorflow_importable": tf.returncode == 0, "rows": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
