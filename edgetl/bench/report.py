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
from .. import targets
from .plots import label_groups, pareto, plots, svg  # noqa: F401 - re-exported: the report's names
from .runner import ROW_FIELDS

SCHEMA = 1


def best_per_device(rows: list[dict[str, Any]], budget_points: float | None) -> list[dict[str, Any]]:
    """For each device: the fastest artifact whose accuracy is known and within the budget of the float artifact,
    among the rows the protocol calls reliable.

    Measured rows decide where there are any; when none of a device's rows is reliable, the fastest unreliable
    one is named as such (``reliable: false``, with its reason). A device that could not be reached gets the
    fastest estimate among artifacts whose accuracy (measured elsewhere in the same benchmark) is within the
    budget. An artifact whose accuracy is unknown is never within a budget.
    """
    acc_of: dict[str, float] = {}
    for r in rows:
        if r.get("accuracy") is not None:
            acc_of.setdefault(r["artifact"], r["accuracy"])
    # the float artifact's accuracy, per run, wherever it was measured: an int8-only board is judged against it
    float_acc: dict[str, float] = {}
    for r in rows:
        if r.get("accuracy") is not None and targets.get(r["target"]).is_float_reference:
            float_acc[r["run"]] = max(float_acc.get(r["run"], 0.0), r["accuracy"])
    out = []
    for dev in dict.fromkeys(r["device"] for r in rows):
        mine = [r for r in rows if r["device"] == dev]
        if any(r.get("emulated") for r in mine):
            ran = [r for r in mine if r["status"] == "ok"]
            out.append({"device": dev, "artifact": None, "emulated": True,
                        "why": f"emulated: {len(ran)} of {len(mine)} row(s) ran (accuracy and agreement are real); "
                               "its latency is the emulator's, so it names no fastest artifact"})
            continue
        measured = [r for r in mine if r["status"] == "ok" and r.get("p50_ms")]
        steady = [r for r in measured if r.get("reliable") is not False]
        basis = "measured"
        cands = [(r, r["p50_ms"], r.get("accuracy")) for r in (steady or measured)]
        if not cands:
            basis = "estimate"
            cands = [(r, r["estimate"]["p50_ms"], acc_of.get(r["artifact"])) for r in mine if r.get("estimate")]
        if not cands:
            out.append({"device": dev, "artifact": None, "why": "nothing was measured or estimated"})
            continue
        out.append(_pick(dev, cands, basis, budget_points, float_acc, reliable=bool(steady) if basis == "measured" else None))
    return out


def _pick(dev: str, cands: list[tuple[dict[str, Any], float, float | None]], basis: str,
          budget_points: float | None, float_acc: dict[str, float], *, reliable: bool | None) -> dict[str, Any]:
    def drop(r: dict[str, Any], a: float | None) -> float | None:
        ref = float_acc.get(r["run"])
        return None if ref is None or a is None else 100 * (ref - a)

    within = [(r, p, a) for r, p, a in cands
              if budget_points is None or ((d := drop(r, a)) is not None and d <= budget_points)]
    r, p, a = min(within or cands, key=lambda c: c[1])
    d = drop(r, a)
    if not within and all(drop(c[0], c[2]) is None for c in cands):
        why = (f"accuracy unknown for every artifact (no labeled images, or no float artifact measured), so none "
               f"is known to be within {budget_points:g} points; this is only the fastest")
    elif not within:
        why = (f"no artifact is within {budget_points:g} points of the float artifact; the fastest loses "
               f"{d:.2f} points" if d is not None else f"no artifact is known to be within {budget_points:g} "
               "points; the fastest's accuracy is unknown")
    elif d is None:
        why = "fastest; accuracy unknown (no labeled images or no float artifact measured)"
    elif budget_points is None:
        why = "fastest"
    else:
        why = f"{-d + 0.0:+.2f} points vs the float artifact, budget {budget_points:g}"
    return {"device": dev, "artifact": r["artifact"], "target": r["target"], "threads": r["threads"],
            "p50_ms": round(p, 3), "accuracy": a, "basis": basis, "budget_points": budget_points,
            "within_budget": bool(within), "reliable": reliable,
            "unreliable_reason": str(r.get("unreliable_reason") or "marked unreliable") if reliable is False else "",
            "why": why}


def summary_lines(best: list[dict[str, Any]]) -> list[str]:
    """One line per device; a device whose rows are all unreliable says so before naming anything."""
    lines = []
    for b in best:
        if not b.get("artifact"):
            lines.append(f"{b['device']}: {b['why']}")
            continue
        acc = f", top-1 {b['accuracy']:.4f}" if b.get("accuracy") is not None else ""
        pick = (f"{b['target']} at {b['threads']} thread(s), p50 {b['p50_ms']:.2f} ms "
                f"({b['basis']}{acc}; {b['why']})")
        if b.get("reliable") is False:
            lines.append(f"{b['device']}: no reliable measurement here; fastest unreliable: {pick}; unreliable "
                         f"because {b.get('unreliable_reason') or 'the protocol said so'}")
        else:
            lines.append(f"{b['device']}: {pick}")
    return lines


def write_reports(rows: list[dict[str, Any]], out_dir: Path, devices: dict[str, Any], *,
                  omitted: list[dict[str, Any]] | None = None,
                  accuracy_budget: float | None = None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    slim = [{k: r.get(k) for k in ROW_FIELDS} for r in rows]
    best = best_per_device(rows, accuracy_budget)
    doc = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "devices": devices, "rows": slim,
           "best": best, "omitted": omitted or [],
           "fingerprints": {r["device"]: r["fingerprint"] for r in rows if r.get("fingerprint")},
           "latencies_ms": {f"{i}": r["latencies_ms"] for i, r in enumerate(rows) if r.get("latencies_ms")},
           # each row's scores on the eval items (row index): the same artifact on two devices compared by size
           "scores": {f"{i}": r["scores"] for i, r in enumerate(rows) if r.get("scores")}}
    paths = {"json": out_dir / "bench.json", "csv": out_dir / "bench.csv", "md": out_dir / "bench.md",
             "html": out_dir / "bench.html"}
    atomic_write_text(paths["json"], json.dumps(doc, indent=2, default=str) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(ROW_FIELDS))
    w.writeheader()
    for r in slim:
        w.writerow({k: csv_cell("" if v is None else json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()})
    atomic_write_text(paths["csv"], buf.getvalue())
    atomic_write_text(paths["md"], markdown(slim, best, omitted or []))
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


MD_COLS = ("device", "target", "threads", "status", "reliable", "p50_ms", "p90_ms", "p99_ms", "ci95_ms", "accuracy",
           "top1_agreement", "size_bytes", "rss_peak_mb", "estimate", "reason", "unreliable_reason")


def markdown(rows: list[dict[str, Any]], best: list[dict[str, Any]] | None = None,
             omitted: list[dict[str, Any]] | None = None) -> str:
    lines = ["| " + " | ".join(MD_COLS) + " |", "|" + "---|" * len(MD_COLS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)).replace("|", "/").replace("\n", " ") for c in MD_COLS) + " |")
    tail = ""
    if omitted:
        tail += f"\n{omitted_sentence(omitted)}\n"
    if best:
        tail += "\n## Fastest artifact within the accuracy budget, per device (reliable rows only)\n\n" + "".join(
            f"- {x}\n" for x in summary_lines(best))
    return "# Benchmark\n\n" + "\n".join(lines) + "\n" + tail


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(v: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: a string that starts like a formula (=, +, -, @, tab, CR)
    gets a leading apostrophe (OWASP's advice for CSV injection). Numbers stay numbers."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def omitted_sentence(omitted: list[dict[str, Any]]) -> str:
    pairs = sorted({f"{o['target']} on {o['device']}" for o in omitted})
    return (f"Left out {len(pairs)} artifact/device pair(s) that cannot run (the device's runtime or format does "
            f"not take the artifact): {', '.join(pairs)}.")


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
    fps = "".join(f"<h3>{html.escape(d)}</h3><table class='kv'>" + "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v) if not isinstance(v, dict) else json.dumps(v))}</td></tr>"
        for k, v in (fp.items() if isinstance(fp, dict) else [("fingerprint", fp)])) + "</table>"
        for d, fp in doc["fingerprints"].items())
    best = "".join(f"<li>{html.escape(x)}</li>" for x in summary_lines(doc.get("best") or []))
    omitted = f"<p>{html.escape(omitted_sentence(doc['omitted']))}</p>" if doc.get("omitted") else ""
    sections = "".join(f"<section class='plot' id='{k}'>{v}</section>" for k, v in figs.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgetl benchmark</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 6px; }}
tr.failed td {{ background: #fdd; }} tr.unreachable td, tr.skipped td {{ color: #777; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 1em; }} .plot svg {{ max-width: 100%; width: 640px; height: auto; }}
.scroll {{ overflow-x: auto; max-width: 100%; }} td {{ max-width: 28em; overflow-wrap: anywhere; }}
table.kv th {{ text-align: left; background: #f4f4f4; }} body {{ max-width: 1200px; }}
</style></head><body>
<h1>edgetl benchmark</h1>
<p>Created {html.escape(doc['created'])}; schema {doc['schema']}. The same rows are in bench.json, bench.csv and bench.md.</p>
<h2>Fastest artifact within the accuracy budget, per device (reliable rows only)</h2><ul id="best">{best}</ul>
<div class="plots">{sections}</div>
<h2>Rows</h2><div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>
{omitted}
<h2>Machines</h2>{fps}
</body></html>
"""
