"""``edgetl backbones``: the registry as a table or JSON."""
from __future__ import annotations

import click

from ..options import emit


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backbones(as_json: bool) -> None:
    """List the backbones, their input sizes, width multipliers and weight file names."""
    from ...backbones.specs import BACKBONES
    from ...text.specs import TEXT_BACKBONES

    rows = [{"name": s.name, "kind": "image", "keras": s.keras_app, "default_size": s.default_size, "sizes": list(s.sizes),
             "alphas": list(s.alphas), "preprocess": s.preprocess, "fine_tune_from": s.fine_tune_from,
             "early_layer": s.early_layer,
             "weights_file": s.weights_filename(s.default_alpha, s.default_size)} for s in BACKBONES.values()]
    rows += [{"name": s.name, "kind": "text", "default_size": None, "sizes": [], "alphas": [], "preprocess": "wordpiece",
              "fine_tune_from": None, "early_layer": None, "weights_file": f"{s.folder}/ (hub: {s.hub_repo})",
              "max_length": s.max_length, "description": s.description} for s in TEXT_BACKBONES.values()]
    if as_json:
        emit(rows, True)
        return
    from rich.table import Table

    from ..console import console, fit

    t = Table(title="edgetl backbones")
    for col in ("name", "kind", "default size", "alphas", "preprocess", "offline weights file or folder"):
        t.add_column(col)
    for r in rows:
        size = f"<= {r['max_length']} tokens" if r.get("max_length") else str(r["default_size"])
        t.add_row(r["name"], r["kind"], size, ",".join(map(str, r["alphas"])) or "-", r["preprocess"],
                  r["weights_file"])
    con = console(200)
    fit(t, con.width, wrap=("offline weights file or folder", "preprocess"))
    con.print(t)
