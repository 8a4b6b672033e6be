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


def _read_texts(path: str) -> list[str]:
    """One text per line (blank lines skipped), read with the runtime's size limit."""
    from ...errors import ConfigError
    from ...runtime.limits import MAX_TEXT_FILE_BYTES, read_bounded

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Texts file {path!r} does not exist.")
    data = read_bounded(p, MAX_TEXT_FILE_BYTES, error=ConfigError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}). Save it as UTF-8.") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _floats(text: str | None) -> list[float] | None:
    return None if text is None else [float(x) for x in text.split(",")]


@click.command()
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1)
@click.option("--text", "texts", multiple=True, help="A text to classify (text models; repeatable).")
@click.option("--texts-file", type=click.Path(), help="A file of texts to classify, one per line (text models).")
@click.option("--top-k", type=int, default=3, show_default=True, help="Predictions per image.")
@click.option("--threads", type=int, help="Interpreter threads.")
@click.option("--backend", type=click.Choice(["auto", "litert", "tflite-runtime", "onnxruntime"]), default="auto")
@click.option("--mean", help="For a model without contract: mean on 0..255 pixels, e.g. 127.5 or 123.7,116.3,103.5.")
@click.option("--std", help="For a model without contract: std on 0..255 pixels, e.g. 127.5.")
@click.option("--labels", type=click.Path(), help="Labels file (one per line) for a model without contract.")
@click.option("--selftest", is_flag=True, help="Run the model's golden self-test first (alone when no inputs are given).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {image, label, score, top_k}.")
def predict(model: str, inputs: tuple[str, ...], texts: tuple[str, ...], texts_file: str | None, top_k: int,
            threads: int | None, backend: str, mean: str | None, std: str | None, labels: str | None, selftest: bool,
            as_json: bool) -> None:
    """Classify IMAGE_OR_DIR... (or --text / --texts-file for a text model) with MODEL (.tflite, .onnx, or an
    OpenVINO .xml with its .bin)."""
    from ...errors import EdgetlError
    from ...runtime.classify import Classifier
    from ...runtime.text import TextClassifier

    clf = Classifier.load(model, threads=threads, backend=backend, mean=_floats(mean), std=_floats(std),
                          labels=labels)
    is_text = isinstance(clf, TextClassifier)  # Classifier.load gives the class of the contract's kind
    if is_text and inputs:
        raise click.UsageError(f"{model} is a text model: pass --text \"...\" or --texts-file FILE, not image paths.")
    if not is_text and (texts or texts_file):
        raise click.UsageError(f"{model} is an image model: pass image files or folders, not --text.")
    if not inputs and not texts and not texts_file and not selftest:
        raise click.UsageError("Nothing to classify: pass images (or --text / --texts-file for a text model).")
    if selftest:
        r = clf.selftest()
        if not as_json:
            click.echo(f"selftest ok: {r.get('images', r.get('texts'))} golden items on {r['backend']}", err=True)
        if not inputs and not texts and not texts_file:  # 'predict MODEL --selftest': the check alone
            if as_json:
                emit(r, True)
            return
    rows: list[dict[str, Any]] = []
    failed = 0
    if is_text:
        items = list(texts) + (_read_texts(texts_file) if texts_file else [])
        for text in items:
            preds = clf.classify(text, top_k=top_k)
            rows.append({"text": text, "label": preds[0].label, "index": preds[0].index,
                         "score": round(preds[0].score, 6), "top_k": [p.to_dict() for p in preds]})
    for path in [] if is_text else _images(inputs):
        try:
            preds = clf.classify(path, top_k=top_k)
        except EdgetlError as exc:
            failed += 1
            rows.append({"image": str(path), "error": str(exc)})
            continue
        rows.append({"image": str(path), "label": preds[0].label, "index": preds[0].index,
                     "score": round(preds[0].score, 6), "top_k": [p.to_dict() for p in preds]})
    if not rows:
        raise click.UsageError("No texts in the file." if is_text else
                               "No images found in the given paths (looked for jpg, png, bmp, webp, gif).")
    if as_json:
        emit(rows, True)
    else:
        _print_table(rows, f"{Path(model).name} ({clf.backend_name} {clf.backend_version})", top_k, is_text)
    if failed:
        sys.exit(1)


def _print_table(rows: list[dict[str, Any]], title: str, top_k: int, is_text: bool) -> None:
    from rich.table import Table

    from ..console import console, esc, styled

    t = Table(title=esc(title))
    for col in ("text" if is_text else "image", "label", "score", f"top {top_k}"):
        t.add_column(col)
    for r in rows:
        if "error" in r:
            t.add_row(esc(r["image"]), styled("error", "red"), "", esc(r["error"]))
            continue
        item = r["text"] if is_text else r["image"]
        if is_text and len(item) > 60:
            item = item[:57] + "..."
        t.add_row(esc(item), esc(r["label"]), f"{r['score']:.4f}",
                  esc(", ".join(f"{p['label']} {p['score']:.3f}" for p in r["top_k"])))
    console(160).print(t)
