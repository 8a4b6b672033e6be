"""The text main job's fine-tuning settings, chosen on validation only; the main job's test texts touch no choice.

    python benchmarks/text_sweep.py --shared ../shared [--out benchmarks/results/text_sweep.json]
        [--only NAME ...] [--work DIR]

Nested protocol (protocol 2): every row trains examples/trec6.yaml's ``train:`` block, with some options
changed, through the product (``edgetl.api.train``) on the main job's own seeded split (its ``val_split``,
``test_split`` and ``seed``). The choice reads the validation texts only; the test texts are the main job's
test texts, and their top-1 is written beside each row for the reader, never compared. The raw file records a
hash of the test texts, so a reader can check that the main job's test split is the one no row chose on.

Stage 1 runs single fine-tunings; stage 2 runs a model soup (``fine_tune_runs: 3``) at stage 1's best
setting, so whether the soup is worth three times the fine-tuning is chosen on validation too. The rule:
the highest validation top-1; a tie goes to the cheaper row (less fine-tuning time). Rows already in
``--out`` with this protocol and split are kept (a rerun adds the missing ones); rows of older protocols are
dropped, because their splits overlapped the main job's test texts.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
YAML = REPO / "examples" / "trec6.yaml"
PROTOCOL = 2
SOUP_RUNS = 3

# stage 1, name -> options changed from the YAML's train block (one fine-tuning run each). Every row keeps the
# last epoch's weights (no epoch is chosen on validation), so each row's validation top-1 is unbiased.
ROWS: dict[str, dict] = {
    "lr1e-4_ep5_bs32": {},
    "lr5e-5_ep5_bs32": {"fine_tune_lr": 5e-5},
    "lr1e-4_ep3_bs32": {"fine_tune_epochs": 3},
    "lr1e-4_ep8_bs32": {"fine_tune_epochs": 8},
    "lr1e-4_ep5_bs16": {"batch_size": 16},
    "lr1e-4_ep5_bs32_ls0": {"label_smoothing": 0.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "text_sweep.json")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgetl-text-sweep"))
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import yaml

    raw = yaml.safe_load(YAML.read_text())["train"]
    raw.update(data=str(args.shared / "datasets" / "trec6" / "trec6.csv"),
               weights_dir=str(args.shared / "weights" / "all-MiniLM-L6-v2"),
               cache_dir=str(args.work / "cache"))
    split = {k: raw[k] for k in ("val_split", "test_split", "seed")}
    prev = json.loads(args.out.read_text()) if args.out.exists() else {}
    same = prev.get("protocol") == PROTOCOL and prev.get("split") == split
    rows = {r["name"]: r for r in prev.get("rows", [])} if same else {}
    code = commit()
    for name, change in ROWS.items():
        if (args.only is None or name in args.only) and name not in rows:
            rows[name] = run_row(name, {**change, "fine_tune_runs": 1}, raw, args.work, code)
            write(args.out, rows, split, code)
    singles = [r for r in rows.values() if r["changed"].get("fine_tune_runs", 1) == 1]
    if singles:
        best = choose(singles)
        soup = f"{best['name']}_soup{SOUP_RUNS}"
        if soup not in rows and (args.only is None or soup in args.only):
            change = {**{k: v for k, v in best["changed"].items() if k != "fine_tune_runs"},
                      "fine_tune_runs": SOUP_RUNS}
            rows[soup] = run_row(soup, change, raw, args.work, code)
    write(args.out, rows, split, code)


def run_row(name: str, change: dict, raw: dict, work: Path, code: dict) -> dict:
    from edgetl.api import train
    from edgetl.config import TrainConfig

    cfg = TrainConfig.from_dict({**raw, **change})
    t = time.perf_counter()
    res = train(cfg, work / name, progress=False)
    m = json.loads((res.out_dir / "metrics.json").read_text())
    sp = json.loads((res.out_dir / "split.json").read_text())
    ft = m["fine_tune"]
    row = {"name": name, "changed": change, "validation_top1": round(m["validation"]["top1"], 4),
           "test_top1": round(m["test"]["top1"], 4),
           "recipe": f"{ft.get('optimizer', 'Adam')} (weight decay {cfg.weight_decay}), label smoothing "
                     f"{cfg.label_smoothing}, the last epoch's weights",
           "fine_tune_lr": cfg.fine_tune_lr, "fine_tune_epochs": cfg.fine_tune_epochs,
           "batch_size": cfg.batch_size, "fine_tune_runs": cfg.fine_tune_runs, "seed": cfg.seed,
           "feature_extraction_val_top1": m["strategy"]["feature_extraction_val_top1"],
           "fine_tune_s": m["timings_s"].get("fine_tune_s"), "wall_s": round(time.perf_counter() - t, 1),
           "validation_texts": len(sp["val"]), "test_texts": len(sp["test"]), "training_texts": len(sp["train"]),
           "test_texts_sha256": digest(sp["test_texts"]), "validation_texts_sha256": digest(sp["val_texts"]),
           "runs": ft.get("runs"), **code}
    print(f"{name}: val {row['validation_top1']:.4f} test {row['test_top1']:.4f} ({row['wall_s']:.0f} s)",
          flush=True)
    return row


def choose(rows: list[dict]) -> dict:
    """The highest validation top-1; a tie goes to the row with less fine-tuning time."""
    return max(rows, key=lambda r: (r["validation_top1"], -(r["fine_tune_s"] or 0)))


def digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:16]


def commit() -> dict:
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO).stdout.strip()  # noqa: E731
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "edgetl_modified_since_commit": bool(git("status", "--porcelain", "--untracked-files=no", "--", "edgetl"))}


def write(path: Path, rows: dict[str, dict], split: dict, code: dict) -> None:
    if not rows:
        return
    test_hashes = sorted({r["test_texts_sha256"] for r in rows.values()})
    out = {"script": "benchmarks/text_sweep.py", "protocol": PROTOCOL, "date": str(date.today()),
           "yaml": "examples/trec6.yaml", "data": "trec6.csv (../shared/datasets/trec6)", "split": split,
           "test_texts_sha256": test_hashes, "rule": choose.__doc__, "rows": list(rows.values()),
           "chosen_on_validation": choose(list(rows.values()))["name"], **code,
           "machine": {"cpus": os.cpu_count(), "processor": cpu_name(), "python": sys.version.split()[0],
                       "system": f"{platform.system()} {platform.release()}"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(path)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
