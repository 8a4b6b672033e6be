"""Benchmark rows to files: schema-versioned JSON, CSV, Markdown and a self-contained HTML page with plots."""
from __future__ import annotations

import csv
import html
import io
import json
import time
from pathlib import Path
from typing import Any

from ..artifacts import atomic_write_text
from .runner import ROW_FIELDS

SCHEMA = 1


def pareto(points: list[tuple[float, float, int]]) -> list[int]:
    """Indices on the front of (latency lower is better, accuracy higher is better)."""
    front, best = [], -1.0
    for lat, acc, i in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append(i)
            best = acc
    return front


def write_reports(rows: list[dict[str, Any]], out_dir: Path, devices: dict[str, Any]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    slim = [{k: r.get(k) for k in ROW_FIELDS} for r in rows]
    doc = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "devices": devices, "rows": slim,
           "fingerprints": {r["device"]: r["fingerprint"] for r in rows if r.get("fingerprint")},
           "latencies_ms": {f"{i}": r["latencies_ms"] for i, r in enumerate(rows) if r.get("latencies_ms")}}
    paths = {"json": out_dir / "bench.json", "csv": out_dir / "bench.csv", "md": out_dir / "bench.md",
             "html": out_dir / "bench.html"}
    atomic_write_text(paths["json"], json.dumps(doc, indent=2, default=str) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(ROW_FIELDS))
    w.writeheader()
    for r in slim:
        w.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()})
    atomic_write_text(paths["csv"], buf.getvalue())
    atomic_write_text(paths["md"], markdown(slim))
    atomic_write_text(paths["html"], html_page(rows, doc))
    return paths


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, dict):
        return f"{v.get('p50_ms_low', '?'):.1f}-{v.get('p50_ms_high', '?'):.1f} ms (estimate)"
    return str(v)


MD_COLS = ("device", "target", "threads", "status", "p50_ms", "p90_ms", "p99_ms", "ci95_ms", "accuracy",
           "top1_agreement", "size_bytes", "rss_peak_mb", "estimate", "reason")


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(MD_COLS) + " |", "|" + "---|" * len(MD_COLS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)).replace("|", "/") for c in MD_COLS) + " |")
    return "# Benchmark\n\n" + "\n".join(lines) + "\n"


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _scatter(ax: Any, rows: list[dict[str, Any]], xy: list[tuple[float, float]], label: str) -> None:
    ax.scatter([p[0] for p in xy], [p[1] for p in xy], label=label)
    for r, p in zip(rows, xy):
        ax.annotate(f"{r['target']} t{r['threads']}", p, fontsize=7, xytext=(3, 3), textcoords="offset points")


def _finish(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plots(rows: list[dict[str, Any]]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r["status"] == "ok" and r.get("p50_ms")]
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dev in sorted({r["device"] for r in ok}):
        pts = [(r["p50_ms"], r["accuracy"], i) for i, r in enumerate(ok) if r["device"] == dev and r["accuracy"] is not None]
        if not pts:
            continue
        _scatter(ax, [ok[i] for _, _, i in pts], [(lat, acc) for lat, acc, _ in pts], dev)
        front = sorted((ok[i]["p50_ms"], ok[i]["accuracy"]) for i in pareto(pts))
        ax.plot([f[0] for f in front], [f[1] for f in front], "--", linewidth=1, label=f"{dev} Pareto front")
    _finish(ax, "p50 latency (ms)", "top-1 accuracy", "Latency vs accuracy")
    out["latency_accuracy"] = _svg(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dev in sorted({r["device"] for r in ok}):
        sel = [r for r in ok if r["device"] == dev]
        _scatter(ax, sel, [(r["size_bytes"] / 1e6, r["p50_ms"]) for r in sel], dev)
    _finish(ax, "file size (MB)", "p50 latency (ms)", "Size vs latency")
    out["size_latency"] = _svg(fig)
    dist = [r for r in ok if r.get("latencies_ms")]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.35 * len(dist) + 1)))
    if dist:
        ax.boxplot([r["latencies_ms"] for r in dist], orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(dist) + 1), [f"{r['device']} {r['target']} t{r['threads']}" for r in dist],
                      fontsize=7)
    ax.set_xlabel("latency per inference (ms)")
    ax.set_title("Latency distributions")
    ax.grid(alpha=0.3, axis="x")
    out["latency_distribution"] = _svg(fig)
    return out


def html_page(rows: list[dict[str, Any]], doc: dict[str, Any]) -> str:
    try:
        figs = plots(rows)
    except ImportError:  # a runtime-only install: the page still has every number
        figs = {"no_plots": "<p>Plots need matplotlib: pip install 'edgetl[train]' or pip install matplotlib.</p>"}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in MD_COLS)
    body = []
    for r in rows:
        cls = html.escape(r["status"])
        body.append(f"<tr class='{cls}'>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in MD_COLS) + "</tr>")
    fps = "".join(f"<li><b>{html.escape(d)}</b>: {html.escape(json.dumps(fp))}</li>"
                  for d, fp in doc["fingerprints"].items())
    sections = "".join(f"<section class='plot' id='{k}'>{v}</section>" for k, v in figs.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgetl benchmark</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 6px; }}
tr.failed td {{ background: #fdd; }} tr.unreachable td, tr.skipped td {{ color: #777; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 1em; }} .plot svg {{ max-width: 700px; height: auto; }}
</style></head><body>
<h1>edgetl benchmark</h1>
<p>Created {html.escape(doc['created'])}; schema {doc['schema']}. The same rows are in bench.json, bench.csv and bench.md.</p>
<div class="plots">{sections}</div>
<h2>Rows</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<h2>Machines</h2><ul>{fps}</ul>
</body></html>
"""
