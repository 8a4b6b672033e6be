"""The int8 quantization matrix (issue 29): backbone x strategy x int8 target x weight rounding -> raw JSON.

For each row it trains (or reuses) a run on the flowers photos with a held-out test split, exports the int8
targets with the default options (weight rounding chosen on held-back calibration images) and with nearest
rounding (``round_weights=false``), and records validation and test top-1 beside the float TFLite model.
Choices inside edgetl are made on calibration and validation images; the test numbers are only reported.

    python benchmarks/quant_matrix.py --rows mnv2_035_128_fe,mnv2_035_224_fe [--data ../shared/datasets/flowers]

Writes benchmarks/results/quant_matrix.json (rows of other backbones already there are kept).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

ROWS = {  # name: (backbone, alpha, size, strategy)
    "mnv2_035_128_fe": ("mobilenet_v2", 0.35, 128, "feature_extraction"),
    "mnv2_035_224_fe": ("mobilenet_v2", 0.35, 224, "feature_extraction"),
    "mnv2_035_128_ft": ("mobilenet_v2", 0.35, 128, "fine_tune"),
    "mnv2_100_224_fe": ("mobilenet_v2", 1.0, 224, "feature_extraction"),
    "mnv2_100_224_ft": ("mobilenet_v2", 1.0, 224, "fine_tune"),
}
TARGETS = ("tflite:fp32", "tflite:int8", "tflite:uint8", "onnx:int8")


def _acc(r: dict) -> dict:
    return {"target": r["target"], "status": r["status"], "validation_top1": r.get("accuracy"),
            "test_top1": (r.get("test") or {}).get("accuracy"), "test_images": (r.get("test") or {}).get("images")}


def run_row(name: str, args: argparse.Namespace) -> dict:
    from edgetl import ExportConfig, TrainConfig
    from edgetl.api import export, train

    backbone, alpha, size, strategy = ROWS[name]
    run = Path(args.runs) / name
    t0 = time.perf_counter()
    train(TrainConfig(data=args.data, backbone=backbone, alpha=alpha, image_size=size, weights="imagenet",
                      weights_dir=args.weights_dir, strategy=strategy, test_split=0.15, seed=42, epochs=30,
                      fine_tune_epochs=10), run, progress=False)
    default = {r["target"]: _acc(r) for r in export(run, ExportConfig(targets=TARGETS))}
    nearest = {r["target"]: _acc(r) for r in export(run, ExportConfig(targets=TARGETS[1:], round_weights=False))}
    return {"row": name, "backbone": backbone, "alpha": alpha, "image_size": size, "strategy": strategy,
            "float": default["tflite:fp32"], "default": [default[t] for t in TARGETS[1:]],
            "nearest": [nearest[t] for t in TARGETS[1:]], "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="mnv2_035_128_fe,mnv2_035_224_fe", help=f"comma list of {', '.join(ROWS)}")
    ap.add_argument("--data", default=str(here.parent.parent / "shared" / "datasets" / "flowers"))
    ap.add_argument("--weights-dir", default=str(here.parent.parent / "shared" / "weights"))
    ap.add_argument("--runs", default="/tmp/edgetl-quant-matrix")
    ap.add_argument("--out", default=str(here / "results" / "quant_matrix.json"))
    args = ap.parse_args()
    from edgetl.bench.fingerprint import machine_info

    rows = [run_row(n, args) for n in args.rows.split(",")]
    for r in rows:
        f = r["float"]["test_top1"]
        print(r["row"], "float", f, *(f"{a['target']} {a['test_top1'] - f:+.4f} (nearest "
                                      f"{b['test_top1'] - f:+.4f})" for a, b in zip(r["default"], r["nearest"])))
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    mine = {r["row"] for r in rows}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=here).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "edgetl"],
                                capture_output=True, text=True, cwd=here).stdout.strip())
    doc = {"script": "benchmarks/quant_matrix.py", "date": time.strftime("%Y-%m-%d"), "commit": commit,
           "edgetl_modified_since_commit": dirty,
           "machine": machine_info(), "data": "flowers (../shared), seeded split: validation, and a 15% test split",
           "rows": [r for r in old.get("rows", []) if r["row"] not in mine] + rows}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
