"""One self-contained HTML page per run, the one a person sends: training, artifacts, the answer per device.

``run_dir/report.html``: the training curves (whole-epoch ticks), the confusion matrices and per-class F1 of the
validation and test splits, every artifact with its size, accuracy, status and warnings, the fastest answer and
the hand-off per device. Plots are inline SVG (matplotlib), so the page needs no other file and no network.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..bench.plots import svg
from ..train_record import TrainRecord
from ..train_record import read as read_record

PLOTS = ("history", "confusion_validation", "confusion_test", "per_class_f1")


def _history(rows: list[dict[str, Any]], plt: Any) -> str:
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    x = list(range(1, len(rows) + 1))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, name in ((metric, "train"), (f"val_{metric}", "validation")):
            ax.plot(x, [r.get(key) for r in rows], marker="o", markersize=3, label=name)
        for i in range(1, len(rows)):
            if rows[i]["phase"] != rows[i - 1]["phase"]:
                ax.axvline(i + 0.5, color="grey", linestyle="--", linewidth=1)
                ax.annotate(rows[i]["phase"], (i + 0.6, 0.98), xycoords=("data", "axes fraction"), va="top",
                            fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
        ax.set(xlabel="epoch", title=metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return svg(fig)


def _confusion(cm: dict[str, Any], title: str, plt: Any) -> str:
    import numpy as np

    names, m = cm["classes"], np.asarray(cm["rows_true_cols_pred"], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(names), 1.0 + 0.5 * len(names)))
    ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > 0.6 * max(m[i].sum(), 1) else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return svg(fig)


def _per_class(splits: dict[str, dict[str, Any]], plt: Any) -> str:
    import numpy as np

    names = list(next(iter(splits.values())).keys())
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 2), 3.2))
    w = 0.8 / len(splits)
    for k, (split, per) in enumerate(splits.items()):
        ax.bar(np.arange(len(names)) + k * w, [per[n]["f1"] for n in names], w, label=split)
    ax.set_xticks(np.arange(len(names)) + w * (len(splits) - 1) / 2, names, rotation=30, ha="right", fontsize=8)
    ax.set(ylim=(0, 1.15), ylabel="F1", title="per-class F1")
    ax.legend(fontsize=8, loc="upper center", ncol=len(splits))
    ax.grid(axis="y", alpha=0.3)
    return svg(fig)


def plots(record: TrainRecord, history: list[dict[str, Any]]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    with matplotlib.rc_context({"svg.fonttype": "none", "text.parse_math": False, "text.usetex": False}):
        if history:
            out["history"] = _history(history, plt)
        per = {}
        for split, m in (("validation", record.validation), ("test", record.test)):
            if isinstance(m, dict) and m.get("confusion_matrix"):
                out[f"confusion_{split}"] = _confusion(m["confusion_matrix"], f"{split} ({m.get('images')} items)",
                                                       plt)
            if isinstance(m, dict) and m.get("per_class"):
                per[split] = m["per_class"]
        if per:
            out["per_class_f1"] = _per_class(per, plt)
    return out


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _artifact_rows(exports: list[dict[str, Any]]) -> str:
    def acc(v: Any) -> str:
        return "" if v is None else f"{v:.4f}"

    out = []
    for a in exports:
        drop, te = a.get("accuracy_drop_points"), a.get("test") or {}
        warns = "".join(f"<li>{_e(w)}</li>" for w in a.get("warnings") or [])
        out.append(f"<tr class='{_e(a.get('status'))}'><td>{_e(a.get('target'))}</td><td>{_e(a.get('status'))}</td>"
                   f"<td>{(a.get('size_bytes') or 0) / 2**20:.2f}</td><td>{acc(a.get('accuracy'))}</td>"
                   f"<td>{'' if drop is None else f'{-drop + 0.0:+.2f}'}</td><td>{acc(te.get('accuracy'))}</td>"
                   f"<td>{_e(a.get('use'))}</td><td><ul>{warns}</ul></td></tr>")
    return "".join(out)


def page(summary: dict[str, Any], record: TrainRecord, history: list[dict[str, Any]],
         exports: list[dict[str, Any]]) -> str:
    from ..bench.handoff import handoff_lines
    from ..bench.report import summary_lines

    try:
        figs = plots(record, history)
    except ImportError:
        figs = {}
    t = summary["train"]
    bench = summary.get("bench") or {}
    smoke = f"<p class='smoke'><b>{_e(summary['smoke'])}</b></p>" if summary.get("smoke") else ""
    test = (f", test top-1 <b>{t['test_top1']:.4f}</b> on {t['test_images']} (held out, used for no choice)"
            if "test_top1" in t else "")
    sections = "".join(f"<section class='plot' id='{k}'>{v}</section>" for k, v in figs.items())
    answer = "".join(f"<li>{_e(x)}</li>" for x in summary_lines(bench.get("best") or []))
    hand = "\n".join(handoff_lines(bench.get("handoff") or []))
    bench_html = (f"<h2>Benchmark</h2><ul id='best'>{answer}</ul><p>Every row: <a href='bench/bench.html'>"
                  f"bench/bench.html</a>.</p><h2>Hand-off</h2><pre id='handoff'>{_e(hand)}</pre>") if bench else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgetl run {_e(Path(summary['run_dir']).name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 6px; }}
tr.failed td {{ background: #fdd; }} tr.over.budget td, tr.uncertain td {{ background: #ffe; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }} .plot svg {{ max-width: 100%;
height: auto; }} pre {{ white-space: pre-wrap; font-size: 12px; background: #f6f6f6; padding: 1em; }}
td ul {{ margin: 0; padding-left: 1.2em; }} .smoke {{ color: #a40; }}
</style></head><body>
<h1>edgetl run {_e(Path(summary['run_dir']).name)}</h1>{smoke}
<p>{_e(summary['run_dir'])}; {summary['seconds']:.0f} s. Trained: {_e(t['strategy'].get('strategy'))}, validation
top-1 <b>{t['validation_top1']:.4f}</b> on {t['validation_images']} items{test}.</p>
<div class="plots">{sections}</div>
<h2>Artifacts</h2><p>In <code>{_e(summary.get('artifacts_dir'))}</code>; accuracy on the validation split, its
drop in points against Keras (negative: a loss), and the held-out test split's.</p>
<table id="artifacts"><tr><th>target</th><th>status</th><th>MiB</th><th>validation top-1</th><th>vs Keras</th>
<th>test top-1</th><th>for</th><th>warnings</th></tr>{_artifact_rows(exports)}</table>
{bench_html}
</body></html>
"""


def write_run_page(run_dir: Path, summary: dict[str, Any], exports: list[dict[str, Any]], *,
                   record: TrainRecord | None = None) -> Path:
    """``run_dir/report.html`` from the run's own files (``record``: the train stage's, when already read);
    written atomically."""
    from ..artifacts import atomic_write_text

    train = Path(summary["train"]["stage_dir"])
    record = record if record is not None else read_record(train)
    hist_file = train / "history.json"
    history = json.loads(hist_file.read_text()) if hist_file.is_file() else []
    rows = []
    for a in exports:  # each artifact's warnings are in its export stage's report.json
        rep = Path(a["path"]).parent / "report.json" if a.get("path") else None
        try:
            warns = json.loads(rep.read_text()).get("warnings") if rep and rep.is_file() else None
        except (OSError, ValueError):
            warns = None
        rows.append({**a, "warnings": a.get("warnings") or warns or []})
    out = run_dir / "report.html"
    atomic_write_text(out, page(summary, record, history if isinstance(history, list) else [], rows))
    return out
