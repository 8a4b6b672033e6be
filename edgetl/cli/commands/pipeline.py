"""``edgetl pipeline``: train -> export -> verify (-> bench) from one YAML file, with stage caching.

This module parses and prints; the work is ``edgetl.api.pipeline``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("config_file", type=click.Path())
@click.option("--set", "sets", multiple=True, help="Override an option: --set train.epochs=5 (repeatable).")
@click.option("--remeasure", is_flag=True, help="Benchmark again even if this run's benchmark is finished.")
@click.option("--ray", help="Compute the backbone features on a Ray cluster (HOST:PORT or auto); same as "
              "--set train.ray=ADDRESS.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def pipeline(config_file: str, sets: tuple[str, ...], remeasure: bool, ray: str | None, as_json: bool) -> None:
    """Run the stages in CONFIG_FILE; a rerun reuses every stage whose inputs and options are unchanged.

    Every option of every section is checked before the first stage starts. Relative paths in the file are
    relative to the file; paths given with --set are relative to the current folder.
    """
    from ...config import PipelineConfig, load_yaml

    raw = load_yaml(config_file)
    has_bench = raw.get("bench") is not None or any(s.startswith("bench.") for s in sets)
    if remeasure and not has_bench:
        raise click.UsageError(f"--remeasure: {config_file} has no bench section, so there is nothing to measure.")
    overrides = list(sets) + (["bench.remeasure=true"] if remeasure else []) + ([f"train.ray={ray}"] if ray else [])
    config = PipelineConfig.from_dict(raw, base=Path(config_file).resolve().parent, overrides=overrides,
                                      source=config_file)
    say = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    if not as_json:
        from ..printing import config_line, config_text

        verbose = (click.get_current_context().find_root().obj or {}).get("verbose", 0)
        say(f"run folder: {config.run_dir}")
        say(config_text(config.to_dict()) if verbose else config_line(config.to_dict()))
    from ...api import pipeline as run_pipeline

    result = run_pipeline(config, progress=not as_json, say=say)
    from ..options import emit
    from .export import export_table

    if as_json:
        emit({**result.summary, "artifacts": result.exports}, True)
    else:
        export_table(result.exports)
        _print_summary(result.summary)
    if not result.ok:
        raise SystemExit(1)


def _print_summary(summary: dict[str, Any]) -> None:
    from ..console import console, esc, line, styled

    con = console(160, stderr=True)
    t = summary["train"]
    con.print(line("\n", styled("summary", "bold"), f" ({summary['seconds']:.0f} s)"))
    if summary.get("smoke"):
        con.print(f"  {esc(summary['smoke'])}")
    con.print(f"  trained: {esc(t['strategy']['strategy'])}, validation top-1 {t['validation_top1']:.4f} on "
              f"{t['validation_images']} images"
              + (f", test top-1 {t['test_top1']:.4f} on {t['test_images']} (held out)" if "test_top1" in t else "")
              + f"{' (reused)' if t['cached'] else ''}")
    for a in summary["artifacts"]:
        drop = a.get("accuracy_drop_points")
        te = a.get("test") or {}
        test = (f"; test {te['accuracy']:.4f} ({-te['accuracy_drop_points'] + 0.0:+.2f})"
                if te.get("accuracy") is not None and te.get("accuracy_drop_points") is not None else "")
        con.print(f"  {esc(a['target']):<15} {esc(a['status']):<11} validation top-1 {a['accuracy']:.4f}"
                  + (f" ({-drop + 0.0:+.2f} points vs Keras)" if drop is not None else "") + test)
    if "bench" in summary:
        from ...bench.report import summary_lines

        con.print("  fastest within the accuracy budget:")
        for text in summary_lines(summary["bench"]["best"]):
            con.print(f"    {esc(text)}")
        con.print(f"  benchmark: {esc(summary['bench']['dir'])}/bench.html")
        from ...bench.handoff import handoff_lines

        con.print(line("\n", styled("hand-off", "bold"), " (per device: the file, what it gives, the commands)"))
        for text in handoff_lines(summary["bench"].get("handoff") or []):
            con.print(f"  {esc(text)}", soft_wrap=True)
    con.print(f"  artifacts: {esc(summary['artifacts_dir'])}/ (stable names, e.g. model_int8.tflite)")
    if summary.get("report"):
        con.print(f"  run report: {esc(summary['report'])} (curves, confusion matrices, artifacts, hand-off)")
    con.print(f"  reports: {esc(summary['run_dir'])}/export_report.md, pipeline_report.json")
