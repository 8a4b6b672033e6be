"""``edgetl backbones``: the registry as a table or JSON."""
from __future__ import annotations

import click

from ..options import emit


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backbones(as_json: bool) -> None:
    """List the backbones, their input sizes, width multipliers and weight file names."""
    from ...backbones.specs import BACKBONES

    rows = [{"name": s.name, "keras": s.keras_app, "default_size": s.default_size, "sizes": list(s.sizes),
             "alphas": list(s.alphas), "preprocess": s.preprocess, "fine_tune_from": s.fine_tune_from,
             "early_layer": s.early_layer,
             "weights_file": s.weights_filename(s.default_alpha, s.default_size)} for s in BACKBONES.values()]
    if as_json:
        emit(rows, True)
        return
    from rich.table import Table

    from ..console import console

    t = Table(title="edgetl backbones")
    for col in ("name", "default size", "alphas", "preprocess", "offline weights file"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], str(r["default_size"]), ",".join(map(str, r["alphas"])) or "-", r["preprocess"],
                  r["weights_file"])
    console(200).print(t)
