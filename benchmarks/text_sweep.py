"""Fine-tuning settings for the text main job, compared on validation (the choice) with test reported beside it.

    python benchmarks/text_sweep.py --shared ../shared [--out benchmarks/results/text_sweep.json]
        [--only NAME ...] [--work DIR]

Each row trains examples/trec6.yaml's ``train:`` block with some options changed, through the product
(``edgetl.api.train``), on the same seeded split; the features cache is shared, so a row costs its head and its
fine-tuning. The YAML's settings are chosen from the row with the best *validation* top-1; test top-1 is
written next to it and used for no choice. Rows already in ``--out`` are kept (a rerun adds the missing ones).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
YAML = REPO / "examples" / "trec6.yaml"

# name -> options changed from the YAML's train block
ROWS: dict[str, dict] = {
    "lr1e-4_ep5_bs32": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 32, "fine_tune_embeddings": True},
    "lr5e-5_ep10_bs16": {"fine_tune_lr": 5e-5, "fine_tune_epochs": 10, "batch_size": 16, "fine_tune_embeddings": True},
    "lr1e-4_ep10_bs32": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 10, "batch_size": 32, "fine_tune_embeddings": True},
    "lr3e-5_ep10_bs16": {"fine_tune_lr": 3e-5, "fine_tune_epochs": 10, "batch_size": 16, "fine_tune_embeddings": True},
    "lr1e-4_ep5_bs32_frozen_embeddings": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 32,
                                          "fine_tune_embeddings": False},
    "lr1e-4_ep5_bs16": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 16, "fine_tune_embeddings": True},
    "lr1e-4_ep5_bs32_len32": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 32,
                              "fine_tune_embeddings": True, "max_length": 32},
    # the BERT recipe (edgetl's text defaults since these rows): AdamW with weight decay 0.01, label smoothing 0.1,
    # the last epoch's weights; two seeds, because one run's seed moves TREC-6 accuracy by about a point
    "lr1e-4_ep5_bs32_adamw_ls0.1": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 32,
                                    "fine_tune_embeddings": True, "weight_decay": 0.01, "label_smoothing": 0.1},
    "lr1e-4_ep5_bs32_adamw_ls0.1_seed7": {"fine_tune_lr": 1e-4, "fine_tune_epochs": 5, "batch_size": 32,
                                          "fine_tune_embeddings": True, "weight_decay": 0.01, "label_smoothing": 0.1,
                                          "seed": 7},
}
# what the rows above ran with beyond their changes: the recipe of the code that wrote them
OLD_RECIPE = "Adam, hard labels, the epoch with the best validation accuracy restored"
NEW_RECIPE = "AdamW (weight decay 0.01), label smoothing 0.1, the last epoch's weights"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "text_sweep.json")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgetl-text-sweep"))
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import yaml

    from edgetl.api import train
    from edgetl.config import TrainConfig

    raw = yaml.safe_load(YAML.read_text())["train"]
    raw.update(data=str(args.shared / "datasets" / "trec6" / "trec6.csv"),
               weights_dir=str(args.shared / "weights" / "all-MiniLM-L6-v2"),
               cache_dir=str(args.work / "cache"))
    prev = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = {r["name"]: r for r in prev.get("rows", [])}
    for name, row in rows.items():  # what each stored row really did, from its own run's metrics
        m = sorted((args.work / name).glob("train-*/metrics.json"))
        if m and ("embeddings_trained" not in row or "test_texts" not in row):
            mm = json.loads(m[-1].read_text())
            row.setdefault("embeddings_trained", mm["fine_tune"].get("embeddings_trained"))
            row.update(validation_texts=mm["validation"]["images"], test_texts=mm["test"]["images"])
    for row in rows.values():
        row.setdefault("recipe", OLD_RECIPE)
    for name, change in ROWS.items():
        if (args.only and name not in args.only) or name in rows:
            continue
        cfg = TrainConfig.from_dict({**raw, **change})
        if cfg.fine_tune_embeddings != change["fine_tune_embeddings"]:
            sys.exit("TrainConfig does not take fine_tune_embeddings")
        t = time.perf_counter()
        res = train(cfg, args.work / name, progress=False)
        m = json.loads((res.out_dir / "metrics.json").read_text())
        ft = m["fine_tune"]
        rows[name] = {"name": name, "changed": change, "validation_top1": round(m["validation"]["top1"], 4),
                      "recipe": NEW_RECIPE if ft.get("optimizer") == "AdamW" and ft.get("label_smoothing") else
                      f"{ft.get('optimizer', 'Adam')}, label smoothing {ft.get('label_smoothing', 0)}, the last epoch's "
                      "weights",
                      "test_top1": round(m["test"]["top1"], 4),
                      "feature_extraction_val_top1": m["strategy"]["feature_extraction_val_top1"],
                      "fine_tune_s": m["timings_s"].get("fine_tune_s"), "wall_s": round(time.perf_counter() - t, 1),
                      "embeddings_trained": m["fine_tune"].get("embeddings_trained"),
                      "validation_texts": m["validation"]["images"], "test_texts": m["test"]["images"],
                      "history": [{k: h.get(k) for k in ("phase", "epoch", "val_accuracy", "accuracy")}
                                  for h in json.loads((res.out_dir / "history.json").read_text())]}
        print(f"{name}: val {rows[name]['validation_top1']:.4f} test {rows[name]['test_top1']:.4f} "
              f"({rows[name]['wall_s']:.0f} s)", flush=True)
        write(args.out, rows)
    write(args.out, rows)


def write(path: Path, rows: dict[str, dict]) -> None:
    if not rows:
        return
    best = max(rows.values(), key=lambda r: r["validation_top1"])
    out = {"script": "benchmarks/text_sweep.py", "date": str(date.today()), "yaml": "examples/trec6.yaml",
           "data": "trec6.csv (../shared/datasets/trec6)", "rows": list(rows.values()),
           "chosen_on_validation": best["name"],
           "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "python": sys.version.split()[0]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
