"""Each exported artifact checked in the clients that apps load it with, when they are installed
(``pip install "edgetl[clients]"``): MediaPipe Tasks for ``.tflite`` (what Android and iOS apps use, reading the
standard metadata), ``onnx.checker`` (full check) and OpenVINO for ``.onnx``.

A client is given the same input tensor edgetl's runtime got and must name the same top-1 class on at least
``AGREE_MIN`` of the validation items; MediaPipe is also given the photos themselves, resized by its own
pipeline as an app's would be, and that agreement is reported, not required.
"""
from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..modality import IMAGE, Modality

AGREE_MIN = 0.99
INSTALL = 'pip install "edgetl[clients]"'
CLIENT_PACKAGES = ("mediapipe", "openvino", "onnx")


@dataclass(frozen=True)
class ClientCheck:
    """One artifact in one client.

    Attributes:
        client: The client and the API used (``mediapipe ImageClassifier``).
        version: Its package version (None when it is not installed).
        status: ``ok`` (loads and agrees), ``differs`` (loads, agrees on fewer than AGREE_MIN), ``refused``
            (does not load; ``detail`` has its words), ``not installed``.
        items: Validation items compared.
        agreement: Top-1 agreement with edgetl's runtime on the same input.
        own_resize_agreement: MediaPipe on the photos, with its own resize (what an app sees).
        detail: The client's error, or what was set (e.g. OpenVINO's precision hint).
    """

    client: str
    version: str | None
    status: str
    items: int = 0
    agreement: float | None = None
    own_resize_agreement: float | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def versions() -> dict[str, str]:
    """Installed client versions (a stage's cache key: installing a client re-runs the checks)."""
    from ..artifacts import library_versions

    return library_versions(*CLIENT_PACKAGES)


def check(path: Path, clf: Any, items: Any, names: list[str], edgetl_top1: np.ndarray) -> list[ClientCheck]:
    """Every client check that applies to the artifact at ``path``; ``items`` are what edgetl's runtime scored
    (decoded pixels or texts), ``names`` their photo paths (images), ``edgetl_top1`` its answers."""
    from ..modality import get
    from ..runtime.quiet import native_stderr_quiet

    with native_stderr_quiet():  # MediaPipe's and OpenVINO's C++ logs ("Created TensorFlow Lite XNNPACK ...") need -v
        if path.suffix == ".tflite":
            return [MEDIAPIPE[get(clf.contract.kind).mediapipe_task](path, items, names, edgetl_top1)]
        if path.suffix == ".onnx":
            return [_onnx_checker(path), _openvino(path, clf, items, edgetl_top1)]
        # an OpenVINO IR: OpenVINO reading the .xml and its .bin from disk by itself, as an app does (edgetl's
        # runtime hands it checked bytes instead)
        return [_openvino(path, clf, items, edgetl_top1)]


def warnings(rows: list[ClientCheck], target: Any, modality: Modality) -> list[str]:
    """A line for each client that differs from edgetl's runtime, or refuses a file it should load."""
    out = []
    for r in rows:
        if r.status == "differs" and r.agreement is not None:
            out.append(f"{r.client} {r.version} names another top-1 than edgetl's runtime on "
                       f"{100 * (1 - r.agreement):.1f}% of {r.items} validation items given the same input (at least "
                       f"{100 * AGREE_MIN:.0f}% must agree)" + (f"; {r.detail}" if r.detail else ""))
        elif r.status == "differs":
            out.append(f"{r.client}: {r.detail}")
        elif r.status == "refused" and not refusal_expected(target, modality):
            out.append(f"{r.client} {r.version} refuses the file: {r.detail}")
    return out


def refusal_expected(target: Any, modality: Modality) -> bool:
    """MediaPipe and the Task Library take uint8 or float32 images: the int8-input image file is not for them."""
    return target.format.name == "tflite" and target.io_dtype == "int8" and modality.integer_io


def phone_note(target: Any, modality: Modality = IMAGE) -> str:
    """Which apps and devices a target's file is for (``edgetl artifacts`` and the export report say it)."""
    if target.format.name == "onnx":
        return "ONNX Runtime (edgetl's runtime, a Pi, a Jetson) and OpenVINO; phone apps load the .tflite files"
    if target.format.name == "openvino":
        return ("OpenVINO (edgetl's runtime, Intel and Arm CPUs, Intel GPUs and NPUs): copy the .xml and the .bin "
                "together; phone apps load the .tflite files")
    if refusal_expected(target, modality):
        return ("edgetl's runtime, a Pi, a Coral; not phone apps: MediaPipe Tasks and the LiteRT Task Library "
                "cannot load int8 input (use tflite:uint8 there)")
    return modality.tflite_use


def _missing(client: str, package: str) -> ClientCheck | None:
    if importlib.util.find_spec(package) is None:
        return ClientCheck(client, None, "not installed", detail=f"{INSTALL} to check the file in {client}")
    return None


def _row(client: str, version: str, ours: np.ndarray, theirs: list[int], **kw: Any) -> ClientCheck:
    agree = float(np.mean(np.asarray(theirs) == ours[:len(theirs)])) if theirs else None
    status = "ok" if agree is not None and agree >= AGREE_MIN else "differs"
    return ClientCheck(client, version, status, len(theirs), agree, **kw)


def _refused(client: str, version: str, exc: BaseException) -> ClientCheck:
    return ClientCheck(client, version, "refused", detail=" ".join(str(exc).split())[:400])


def _mediapipe_image(path: Path, pixels: Any, names: list[str], ours: np.ndarray) -> ClientCheck:
    client = "mediapipe ImageClassifier"
    if (miss := _missing(client, "mediapipe")) is not None:
        return miss
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from ..runtime.image import load_rgb

    opts = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)))
    try:
        model = vision.ImageClassifier.create_from_options(opts)
    except (RuntimeError, ValueError) as exc:
        return _refused(client, mp.__version__, exc)
    with model:
        def top1(rgb: np.ndarray) -> int:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, np.uint8))
            cats = model.classify(image).classifications[0].categories
            return int(cats[0].index) if cats else -1

        same = [top1(p) for p in pixels]
        own = [top1(np.asarray(load_rgb(n))) for n in names if Path(n).is_file()]
        named = _names_ok(model, mp, pixels[0]) if len(pixels) else True
    own_agree = float(np.mean(np.asarray(own) == ours[:len(own)])) if len(own) == len(same) and own else None
    row = _row(client, mp.__version__, ours, same, own_resize_agreement=own_agree,
               detail="" if named else "no class names in its results")
    return row if named else ClientCheck(**{**row.to_dict(), "status": "differs"})


def _names_ok(model: Any, mp: Any, rgb: np.ndarray) -> bool:
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, np.uint8))
    cats = model.classify(image).classifications[0].categories
    return bool(cats) and all(c.category_name for c in cats)


def _mediapipe_text(path: Path, texts: Any, names: list[str], ours: np.ndarray) -> ClientCheck:
    client = "mediapipe TextClassifier"
    if (miss := _missing(client, "mediapipe")) is not None:
        return miss
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, text

    try:
        model = text.TextClassifier.create_from_options(
            text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(path))))
    except (RuntimeError, ValueError) as exc:
        return _refused(client, mp.__version__, exc)
    with model:
        got = []
        for t in texts:
            cats = model.classify(str(t)).classifications[0].categories
            got.append(int(cats[0].index) if cats else -1)
    return _row(client, mp.__version__, ours, got)


def _onnx_checker(path: Path) -> ClientCheck:
    client = "onnx.checker (full_check)"
    if (miss := _missing(client, "onnx")) is not None:
        return miss
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError) as exc:
        return _refused(client, onnx.__version__, exc)
    return ClientCheck(client, onnx.__version__, "ok")


def _openvino(path: Path, clf: Any, items: Any, ours: np.ndarray) -> ClientCheck:
    client = "openvino CPU"
    if (miss := _missing(client, "openvino")) is not None:
        return miss
    import openvino as ov

    version = ov.__version__.split("-")[0]
    hint = "INFERENCE_PRECISION_HINT f32 (its CPU default may be bf16 where the CPU has it)"
    try:
        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    except RuntimeError as exc:
        return _refused(client, version, exc)
    run: Callable[[np.ndarray], Any] = compiled.create_infer_request().infer
    got = [int(np.argmax(np.asarray(run([clf.model_input(x)])[compiled.output(0)]))) for x in items]
    return _row(client, version, ours, got, detail=hint)


MEDIAPIPE = {"ImageClassifier": _mediapipe_image, "TextClassifier": _mediapipe_text}  # Modality.mediapipe_task
