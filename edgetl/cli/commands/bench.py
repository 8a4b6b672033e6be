"""``edgetl bench``: latency and accuracy of artifacts on device profiles, with reports."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..options import emit


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--device", "devices", multiple=True, default=("host-cpu",), show_default=True,
              help="Profile name or .yaml path (repeatable).")
@click.option("--data", type=click.Path(), help="Labeled images (class folders) for accuracy; default: the run's validation split.")
@click.option("--threads", help="Comma list overriding the profiles' threads, e.g. 1,2.")
@click.option("--max-images", type=int, default=0, help="Cap the accuracy images (0: all).")
@click.option("--repetitions", type=int, help="Interleaved repetitions per row (default: the profile's, 3).")
@click.option("--sustained", "sustained_min", type=float,
              help="Run each row for this many minutes and report the drift (thermal throttling on a board).")
@click.option("--batch", type=int, default=1, show_default=True,
              help="Throughput mode: images per call, for server GPUs (models with a dynamic batch: ONNX).")
@click.option("--accuracy-budget", type=float, default=2.0, show_default=True,
              help="Points below the float artifact that the 'fastest within budget' answer allows.")
@click.option("--parallel", type=int, default=4, show_default=True,
              help="SSH devices measured at the same time (each one measurement at a time; local devices take turns).")
@click.option("--out", type=click.Path(), default="runs/bench", show_default=True, help="Report folder.")
@click.option("--json", "as_json", is_flag=True, help="Print {rows: [...]} as JSON.")
def bench(inputs: tuple[str, ...], devices: tuple[str, ...], data: str | None, threads: str | None, max_images: int,
          repetitions: int | None, sustained_min: float | None, batch: int, accuracy_budget: float, parallel: int,
          out: str, as_json: bool) -> None:
    """Benchmark MODEL_OR_RUN_DIR... on each --device; a failure is a row, never a crash of the run."""

    from ...bench.report import write_reports
    from ...bench.runner import ROW_FIELDS, collect, run_bench
    from ...devices import load_profile

    profs = [load_profile(d) for d in devices]
    arts = collect(list(inputs))
    th = [int(x) for x in threads.split(",")] if threads else None
    if batch < 1 or (repetitions is not None and repetitions < 1) or (sustained_min is not None and sustained_min <= 0):
        raise click.UsageError("--batch and --repetitions must be at least 1, --sustained positive.")
    omitted: list[dict] = []
    rows = run_bench(arts, profs, data_dir=data, out_dir=Path(out), threads=th, max_images=max_images,
                     progress=None if as_json else lambda m: click.echo(f"bench {m}", err=True), omitted=omitted,
                     repetitions=repetitions, sustained_s=60 * sustained_min if sustained_min else None, batch=batch,
                     parallel=max(1, parallel))
    paths = write_reports(rows, Path(out), {p.name: p.to_dict() for p in profs}, omitted=omitted,
                          accuracy_budget=accuracy_budget)
    slim = [{k: r.get(k) for k in ROW_FIELDS} for r in rows]
    if as_json:
        emit({"rows": slim, "reports": {k: str(v) for k, v in paths.items()}}, True)
    else:
        table(slim)
        click.echo(f"reports: {', '.join(str(p) for p in paths.values())}", err=True)
        _handoff(paths["json"], inputs, arts)
    if any(r["status"] == "failed" for r in rows):
        sys.exit(1)


def _handoff(bench_json: Path, inputs: tuple[str, ...], arts: list) -> None:
    """Per device: the file to put on it and the commands (the run's artifacts/ when one run folder was given)."""
    import json

    from ...bench.handoff import handoff_lines, handoffs

    runs = [Path(i) for i in inputs if Path(i).is_dir()]
    one = runs[0] if len(runs) == 1 else None
    art_dir = one / "artifacts" if one and (one / "artifacts").is_dir() else None
    report = one / "export_report.json" if one else None
    try:  # the run's own export report gives the test split's accuracy beside validation
        exports = json.loads(report.read_text()).get("artifacts") if report and report.is_file() else None
    except (OSError, ValueError, AttributeError):
        exports = None
    kind = next((a.kind for a in arts), "image")
    lines = handoff_lines(handoffs(json.loads(bench_json.read_text()), art_dir, exports, kind=kind))
    if lines:
        click.echo("hand-off (per device: the file, what it gives, the commands):", err=True)
        click.echo("\n".join(f"  {x}" for x in lines), err=True)


def table(rows: list[dict]) -> None:
    from rich.table import Table

    from ..console import console, dropped_note, esc, fit, styled

    t = Table(title="edgetl bench")
    for c in ("device", "artifact", "thr", "status", "p50 ms", "spread", "p90 ms", "p99 ms", "top-1", "agree fp32",
              "agree Keras", "MB", "RSS MB", "note"):
        t.add_column(c)
    for r in rows:
        f = lambda v, d=2: "" if v is None else f"{v:.{d}f}"  # noqa: E731
        style = {"ok": "green", "failed": "red"}.get(r["status"], "dim")
        note = r["reason"] if r["status"] != "ok" else ""
        if r.get("reliable") is False:
            note = f"UNRELIABLE: {r['unreliable_reason']}" + (f"; {note}" if note else "")
        if r.get("node_providers"):
            note = f"ran on {r['node_providers']}" + (f"; {note}" if note else "")
        if r.get("estimate"):
            e = r["estimate"]
            note = f"estimate {e['p50_ms_low']:.1f}-{e['p50_ms_high']:.1f} ms; " + note
        t.add_row(esc(r["device"]), esc(f"{r['run']}/{r['target']}"), str(r["threads"]),
                  styled(r["status"], style),
                  f(r["p50_ms"]), "" if r.get("p50_spread_pct") is None else f"{r['p50_spread_pct']:.1f}%",
                  f(r["p90_ms"]), f(r["p99_ms"]), f(r["accuracy"], 4), f(r["top1_agreement"], 4),
                  f(r.get("keras_top1_agreement"), 4), f(r["size_bytes"] / 1e6, 1), f(r["rss_peak_mb"], 0), esc(note))
    con = console(200)
    gone = fit(t, con.width, wrap=("note",), drop=("p99 ms", "RSS MB", "p90 ms", "agree Keras", "MB", "spread",
                                                    "agree fp32"))
    con.print(t)
    if gone:
        con.print(dropped_note(gone, "bench.md and bench.json"))
