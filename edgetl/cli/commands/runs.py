"""``edgetl artifacts`` and ``edgetl clean``: what a run holds, and freeing the space of old stages and caches."""
from __future__ import annotations

import click

from ..options import emit


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
def artifacts(run_dir: str, as_json: bool) -> None:
    """List the current artifacts of RUN_DIR with their stable paths (RUN_DIR/artifacts/...)."""
    from rich.table import Table

    from ...runs import list_artifacts
    from ..console import console, dropped_note, esc, fit

    rows = list_artifacts(run_dir)
    if as_json:
        emit(rows, True)
        return
    t = Table(title=esc(f"artifacts of {run_dir}"))
    for c in ("target", "status", "top-1", "vs Keras pts", "test top-1", "size KB", "path", "for"):
        t.add_column(c, overflow="fold")
    for r in rows:
        drop = r.get("accuracy_drop_points")
        t.add_row(esc(r["target"]), esc(r["status"]), "" if r["accuracy"] is None else f"{r['accuracy']:.4f}",
                  "" if drop is None else f"{-drop + 0.0:+.2f}",
                  "" if r.get("test_accuracy") is None else f"{r['test_accuracy']:.4f}",
                  "" if r["size_bytes"] is None else f"{r['size_bytes'] / 1024:.0f}", esc(r["path"]),
                  esc(r.get("use") or ""))
    con = console(200)
    gone = fit(t, con.width, wrap=("path", "for"), drop=("for",))
    con.print(t)
    if gone:
        con.print(dropped_note(gone, "edgetl artifacts --json"))


@click.command()
@click.argument("run_dir", type=click.Path(), required=False)
@click.option("--cache", "with_cache", is_flag=True, help="Also delete the decoded-image and feature cache.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
def clean(run_dir: str | None, with_cache: bool, dry_run: bool, as_json: bool) -> None:
    """Remove stage folders of RUN_DIR that no current result uses (older options), and with --cache the
    shared cache (~/.cache/edgetl or $EDGETL_CACHE_DIR). Current stages and artifacts are kept, and so is
    everything edgetl cannot prove it made (each line says why a folder is edgetl's)."""
    from ...data.cache import default_cache_dir
    from ...runs import clean as do_clean
    from ..console import plain

    if run_dir is None and not with_cache:
        raise click.UsageError("Name a run folder, or pass --cache to clean the shared cache.")
    done = do_clean(run_dir, cache_dir=default_cache_dir() if with_cache else None, dry_run=dry_run)
    if as_json:
        emit(done, True)
        return
    for d in done:
        click.echo(f"{'would remove' if dry_run else 'removed'} {plain(d['path'])} ({d['bytes'] / 2**20:.1f} MiB): "
                   f"{d['why']}")
    total = sum(d["bytes"] for d in done) / 2**20
    click.echo(f"{'would free' if dry_run else 'freed'} {total:.1f} MiB in {len(done)} folder(s)")
