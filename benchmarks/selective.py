"""Selective quantization on real models: plain int8 vs selective int8 vs float, on the held-out test split.

    python benchmarks/selective.py --shared ../shared --lr 1e-4 [--lr 1e-5] [--backbone mobilenet_v2]

For each fine-tuning rate: trains flowers (MobileNetV2 1.0/224, three-way split with a 15% test set), exports
tflite:int8 and onnx:int8 three ways: with each weight rounded to its nearest step (``round_weights=false``,
"nearest"), as the export does by default (activation-aware weight rounding, "plain") and with
``selective=true`` at an accuracy budget (default 0.5 points); then times the plain and the selective artifact
side by side (one thread, interleaved rounds) and writes every number with the split it comes from to
benchmarks/results/selective.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_pair(a: Path, b: Path, rounds: int = 7, runs: int = 60) -> tuple[float, float]:
    """1-thread latency of two artifacts, timed side by side in interleaved rounds (the export's own timing)."""
    import numpy as np

    from edgetl.quantize.selective import paired_latency_ms
    from edgetl.runtime import Classifier

    ca, cb = Classifier.load(a, threads=1), Classifier.load(b, threads=1)
    xa, xb = np.zeros(ca.input_shape, ca.input_dtype), np.zeros(cb.input_shape, cb.input_dtype)
    return paired_latency_ms(lambda: ca.scores_from_input(xa), lambda: cb.scores_from_input(xb),
                             runs=runs, rounds=rounds)


def rows_from_stages(run: Path, args: argparse.Namespace, lr: float) -> list[dict]:
    """The rows of an earlier invocation from its export stages (``stage.json``, ``report.json``), timed again."""
    train_dir = next(d for d in run.glob("train-*") if ".tmp-" not in d.name and (d / "metrics.json").is_file())
    metrics = json.loads((train_dir / "metrics.json").read_text())
    rows = []
    for target in ("tflite:int8", "onnx:int8"):
        found: dict[bool, tuple[dict, Path, float]] = {}
        stages = run.glob(f"export_{target.replace(':', '_')}-*/stage.json")
        for st in sorted(stages, key=lambda q: q.stat().st_mtime):  # the newest of a kind wins
            meta = json.loads(st.read_text())
            c = meta["config"]
            if (meta["version"] == args.from_stage_version and c["calibration_images"] == 200
                    and c["accuracy_budget"] == args.budget):
                found[bool(c["selective"])] = (json.loads((st.parent / "report.json").read_text()), st.parent,
                                                float(meta.get("seconds") or 0))
        if set(found) != {False, True}:
            raise SystemExit(f"{run}: no plain and selective {target} export of stage version {args.from_stage_version}")
        (p, pdir, _), (s, sdir, sec) = found[False], found[True]
        lat_p, lat_s = timed_pair(pdir / p["file"], sdir / s["file"])
        rows.append(row(args.backbone, lr, target, metrics, p, s, lat_p, lat_s, None, sec))
        rows[-1]["rebuilt_from"] = f"export stage version {args.from_stage_version} reports in {run.name}"
        rows[-1]["export_stage_version"] = args.from_stage_version
        print(json.dumps(rows[-1])[:400], flush=True)
    return rows


def _drops(p: dict) -> dict:
    return {"val_drop": p["accuracy_drop_points"], "test_drop": p["test"]["accuracy_drop_points"],
            "test_top1": p["test"]["accuracy"], "status": p["status"],
            "val_disagreement_points": round(100 * (1 - p["top1_agreement"]), 3),
            "test_disagreement_points": round(100 * (1 - p["test"]["top1_agreement"]), 3),
            "weight_rounding": (p.get("calibration") or {}).get("weight_rounding"), "convert_s": p.get("convert_s")}


def row(backbone: str, lr: float, target: str, metrics: dict, p: dict, s: dict, lat_p: float, lat_s: float,
        train_s: float | None, sel_s: float, nearest: dict | None = None) -> dict:
    from edgetl.export.stages import ExportStage

    info = s.get("selective") or {}
    return {
        "backbone": backbone, "fine_tune_lr": lr, "target": target, "export_stage_version": ExportStage.version,
        "float_val_top1": metrics["validation"]["top1"], "float_test_top1": metrics["test"]["top1"],
        **({"nearest": _drops(nearest)} if nearest else {}),
        "plain": _drops(p),
        "selective": {"val_drop": s["accuracy_drop_points"], "test_drop": s["test"]["accuracy_drop_points"],
                      "test_top1": s["test"]["accuracy"], "status": s["status"],
                      "test_disagreement_points": round(100 * (1 - s["test"]["top1_agreement"]), 3),
                      "chosen": bool(info.get("chosen")), "calibration": info.get("calibration"),
                      "float_layers": info.get("float_layers"), "reason": info.get("reason"),
                      "within_budget": info.get("within_budget", bool(info.get("chosen"))),
                      "tried": info.get("tried")},
        "latency_ms_1thread": {"plain": round(lat_p, 4), "selective": round(lat_s, 4),
                               "ratio": round(lat_s / lat_p, 3)},
        "sensitivity_top5": (p.get("sensitivity") or {}).get("layers", [])[:5],
        "train_s": None if train_s is None else round(train_s, 1), "selective_export_s": round(sel_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--lr", type=float, action="append", help="fine-tuning rates (repeatable); default 1e-4")
    ap.add_argument("--backbone", default="mobilenet_v2")
    ap.add_argument("--weights-dir", help="default: ../shared/weights (EfficientNet-Lite: the import-weights folder)")
    ap.add_argument("--budget", type=float, default=0.5)
    ap.add_argument("--runs", default="/tmp/edgetl-selective")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "selective.json"))
    ap.add_argument("--from-stage-version", type=int,
                    help="rebuild the rows from the export stages of that version already in --runs (their reports, "
                         "unchanged) and time the pairs again, instead of training and exporting")
    args = ap.parse_args()
    from edgetl import ExportConfig, TrainConfig
    from edgetl.api import export, train
    from edgetl.bench.fingerprint import machine_info

    shared = Path(args.shared)
    out_rows = []
    for lr in args.lr or [1e-4]:
        run = Path(args.runs) / f"{args.backbone}-lr{lr:g}"
        if args.from_stage_version:
            out_rows += rows_from_stages(run, args, lr)
            continue
        cfg = TrainConfig(data=str(shared / "datasets" / "flowers"), backbone=args.backbone, weights="imagenet",
                          weights_dir=args.weights_dir or str(shared / "weights"), strategy="fine_tune", augment=("flip",),
                          fine_tune_lr=lr, fine_tune_epochs=15, test_split=0.15, seed=42)
        t0 = time.perf_counter()
        res = train(cfg, run, progress=False)
        metrics = json.loads((res.out_dir / "metrics.json").read_text())
        train_s = time.perf_counter() - t0
        base = dict(targets=("tflite:int8", "onnx:int8"), accuracy_budget=args.budget, calibration_images=200)
        nearest = {r["target"]: r for r in export(run, ExportConfig(**base, round_weights=False))}
        plain = {r["target"]: r for r in export(run, ExportConfig(**base))}
        t1 = time.perf_counter()
        sel = {r["target"]: r for r in export(run, ExportConfig(**base, selective=True))}
        sel_s = time.perf_counter() - t1
        for target in ("tflite:int8", "onnx:int8"):
            p, s = plain[target], sel[target]
            lat_p, lat_s = timed_pair(Path(p["path"]), Path(s["path"]))
            out_rows.append(row(args.backbone, lr, target, metrics, p, s, lat_p, lat_s, train_s, sel_s,
                                nearest[target]))
            print(json.dumps(out_rows[-1])[:400], flush=True)
    old = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    if old.get("budget_points") == args.budget:  # keep earlier runs (other rates or backbones), replace the same
        mine = {(r["backbone"], r["fine_tune_lr"], r["target"]) for r in out_rows}
        out_rows = [r for r in old.get("rows", []) if (r["backbone"], r["fine_tune_lr"], r["target"]) not in mine] \
            + out_rows
    doc = {"script": "benchmarks/selective.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "budget_points": args.budget, "split_note": "choices on the validation split; drops reported on the "
                                                        "held-out test split (15% of each class)", "rows": out_rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
