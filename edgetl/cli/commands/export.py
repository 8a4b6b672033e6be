"""``edgetl export``: turn a trained run into verified TFLite and ONNX artifacts."""
from __future__ import annotations

import sys
from typing import Any

import click

from ...config import ExportConfig
from ..options import emit, resolve_config


def export_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from ..console import console, dropped_note, esc, fit, line, styled

    t = Table(title="exported artifacts (verified on the validation images; test: the held-out split, reported only)")
    for col in ("target", "status", "size KB", "top-1", "vs Keras pts", "test top-1", "test vs Keras", "agree w/ Keras",
                "max |diff|", "convert s"):
        t.add_column(col, justify="right" if col not in ("target", "status") else "left")
    for r in rows:
        te = r.get("test") or {}
        test = ((f"{te['accuracy']:.4f}", f"{-te['accuracy_drop_points'] + 0.0:+.2f}")
                if te.get("accuracy") is not None and te.get("accuracy_drop_points") is not None else ("", ""))
        style = {"ok": "green", "uncertain": "yellow", "over budget": "bold yellow",
                 "failed": "bold red"}.get(r["status"], "")
        t.add_row(esc(r["target"]), styled(r["status"], style), f"{r['size_bytes'] / 1024:.0f}", f"{r['accuracy']:.4f}",
                  f"{-r['accuracy_drop_points'] + 0.0:+.2f}", *test, f"{r['top1_agreement']:.4f}", f"{r['max_abs_diff']:.4f}",
                  f"{r['convert_s']:.1f}")
    con = console(140)
    gone = fit(t, con.width, drop=("max |diff|", "convert s", "size KB", "agree w/ Keras"))
    con.print(t)
    if gone:
        con.print(dropped_note(gone, "export_report.md"))
    for r in rows:
        if r["status"] != "ok":
            con.print(line(styled(f"{r['target']} {r['status'].upper()}",
                                  "bold red" if r["status"] in ("over budget", "failed") else "yellow"),
                           f": {esc(r['reason'])}"))


def finish(rows: list[dict[str, Any]], as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        emit({**(extra or {}), "artifacts": rows}, True)
    else:
        export_table(rows)
    from ...export.verify import PASSING

    if any(r["status"] not in PASSING for r in rows):
        sys.exit(1)


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--to", "targets", help="Comma list of targets, e.g. tflite:fp32,tflite:int8,onnx:fp32 (default: all).")
@click.option("--calibration-images", type=int, help="Training images used to calibrate int8.")
@click.option("--accuracy-budget", type=float, help="Largest allowed top-1 drop of a quantized artifact (points).")
@click.option("--selective", is_flag=True, default=None,
              help="Repair int8 artifacts over the budget: better calibration, then sensitive layers kept in float.")
@click.option("--opset", type=int, help="ONNX opset (default 17, at most 18).")
@click.option("--config", "config_file", type=click.Path(), help="YAML with export options (or an 'export:' section).")
@click.option("--set", "sets", multiple=True, help="Override an option: --set key=value.")
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
def export(run_dir: str, config_file: str | None, sets: tuple[str, ...], as_json: bool, **opts: Any) -> None:
    """Export the model trained in RUN_DIR; each artifact is checked against the Keras model.

    Exits with status 1 when an artifact failed its checks or a quantized one lost more accuracy than
    the budget; the report says which and why.
    """
    from pathlib import Path

    config = ExportConfig.from_dict(resolve_config(config_file, sets, opts, section="export"))
    if not as_json:
        from ..printing import config_line, config_text

        verbose = (click.get_current_context().find_root().obj or {}).get("verbose", 0)
        click.echo("config:\n" + config_text(config.to_dict()) if verbose else
                   config_line({"export": config.to_dict()}, "export"), err=True)
    from ...api import export as run_export

    rows = run_export(run_dir, config,
                      on_start=None if as_json else lambda s, k: click.echo(f"running {s} ({k})", err=True))
    if not as_json:
        click.echo(f"report: {Path(run_dir) / 'export_report.md'}", err=True)
    finish(rows, as_json, {"run_dir": run_dir})
