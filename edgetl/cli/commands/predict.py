"""``edgetl predict``: classify images with an exported model, using only the runtime (no TensorFlow)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..options import emit


def _images(inputs: tuple[str, ...]) -> list[Path]:
    from ...runtime.image import IMAGE_EXTENSIONS

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS))
        else:
            out.append(p)
    return out


def _floats(text: str | None) -> list[float] | None:
    return None if text is None else [float(x) for x in text.split(",")]


@click.command()
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top-k", type=int, default=3, show_default=True, help="Predictions per image.")
@click.option("--threads", type=int, help="Interpreter threads.")
@click.option("--backend", type=click.Choice(["auto", "litert", "tflite-runtime", "onnxruntime"]), default="auto")
@click.option("--mean", help="For a model without contract: mean on 0..255 pixels, e.g. 127.5 or 123.7,116.3,103.5.")
@click.option("--std", help="For a model without contract: std on 0..255 pixels, e.g. 127.5.")
@click.option("--labels", type=click.Path(), help="Labels file (one per line) for a model without contract.")
@click.option("--selftest", is_flag=True, help="Run the model's golden self-test first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {image, label, score, top_k}.")
def predict(model: str, inputs: tuple[str, ...], top_k: int, threads: int | None, backend: str, mean: str | None,
            std: str | None, labels: str | None, selftest: bool, as_json: bool) -> None:
    """Classify IMAGE_OR_DIR... with MODEL (.tflite or .onnx) and its contract."""
    from ...errors import EdgetlError
    from ...runtime.classify import Classifier

    clf = Classifier.load(model, threads=threads, backend=backend, mean=_floats(mean), std=_floats(std),
                          labels=labels)
    if selftest:
        r = clf.selftest()
        if not as_json:
            click.echo(f"selftest ok: {r['images']} golden images on {r['backend']}", err=True)
    rows: list[dict[str, Any]] = []
    failed = 0
    for path in _images(inputs):
        try:
            preds = clf.classify(path, top_k=top_k)
        except EdgetlError as exc:
            failed += 1
            rows.append({"image": str(path), "error": str(exc)})
            continue
        rows.append({"image": str(path), "label": preds[0].label, "index": preds[0].index,
                     "score": round(preds[0].score, 6), "top_k": [p.to_dict() for p in preds]})
    if not rows:
        raise click.UsageError("No images found in the given paths (looked for jpg, png, bmp, webp, gif).")
    if as_json:
        emit(rows, True)
    else:
        from rich.table import Table

        from ..console import console, esc, styled

        t = Table(title=esc(f"{Path(model).name} ({clf.backend_name} {clf.backend_version})"))
        for col in ("image", "label", "score", f"top {top_k}"):
            t.add_column(col)
        for r in rows:
            if "error" in r:
                t.add_row(esc(r["image"]), styled("error", "red"), "", esc(r["error"]))
            else:
                t.add_row(esc(r["image"]), esc(r["label"]), f"{r['score']:.4f}",
                          esc(", ".join(f"{p['label']} {p['score']:.3f}" for p in r["top_k"])))
        console(160).print(t)
    if failed:
        sys.exit(1)
