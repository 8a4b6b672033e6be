"""Build the contract document for an exported artifact, and its golden images."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..runtime.contract import IMAGE_INPUT, Contract
from ..modality import IMAGE, TEXT, Modality
from ..targets import Target
from ..train_record import TrainRecord

GOLDEN_TOLERANCE = 0.02
# ONNX Runtime runs one QDQ int8 file with other kernels on other CPUs: on an AMD EPYC (AVX-512 VNNI) it
# kept 27 of 68 compute nodes of the main job's MobileNetV2 in float, on arm64 (qemu, cortex-a72 and -a76)
# all on integer kernels, and their class probabilities lay up to 0.196 apart with the top-1 the same on 49 of 50 photos
# (benchmarks/results/arm64_box.json). TFLite's int8 kernels gave bit-identical scores there, but not on the
# full-integer MiniLM (up to 0.42 apart, one top-1 of 20 and one golden text's top-1 changed:
# benchmarks/results/arm64_box_text.json): its attention and normalization run other integer kernels per CPU.
ONNX_INT8_GOLDEN_TOLERANCE = 0.25
GOLDEN_POOL = 64  # golden items are the clearest answers among this many validation items


def golden_tolerance(target: Target, modality: Modality = IMAGE) -> float:
    """How far a golden item's scores may move on another CPU before ``selftest()`` fails (top-1 must hold)."""
    wide = target.name in ("onnx:int8", "openvino:int8") or (modality.wide_integer_tolerance and target.full_integer)
    return ONNX_INT8_GOLDEN_TOLERANCE if wide else GOLDEN_TOLERANCE


def golden_indices(scores: np.ndarray, n: int, pool: int = GOLDEN_POOL) -> list[int]:
    """The ``n`` items, among the first ``pool``, whose top-1 is clearest (largest margin over the second class):
    a golden item near a tie would fail ``selftest()`` on a CPU whose kernels round differently."""
    s = np.asarray(scores, dtype=np.float64)[:pool]
    if n <= 0 or not len(s):
        return []
    top2 = np.sort(s, axis=1)[:, -2:] if s.shape[1] > 1 else np.concatenate([np.zeros_like(s), s], 1)
    margin = top2[:, 1] - top2[:, 0]
    return sorted(np.argsort(-margin, kind="stable")[:n].tolist())


def make_contract(target: Target, backend: Any, *, size: int, labels: list[str], train: TrainRecord,
                  source: dict[str, Any], versions: dict[str, str], tokenizer: Any = None,
                  card: dict[str, str] | None = None) -> Contract:
    """The contract of an exported model, from the runtime's view of the file (shapes, dtypes, scales); a text
    model's carries its tokenizer (vocabulary, lower-casing, special tokens, length)."""
    iq, oq = backend.input_quant, backend.output_quant
    model = train.model
    if tokenizer is not None:
        return Contract(
            input_shape=tuple(int(x) for x in backend.input_shape), layout="TOKENS",
            input_dtype=str(backend.input_dtype), output_scale=oq[0] if oq else None,
            output_zero_point=oq[1] if oq else 0, output_kind="probabilities", labels=tuple(labels), kind="text",
            format=target.format.name, precision=target.precision, output_shape=(1, len(labels)),
            output_dtype=str(getattr(backend, "output_dtype", "float32")), tokenizer=tokenizer.to_dict(),
            mean=(0.0,), std=(1.0,),
            meta={"backbone": {"name": model["backbone"], "sequence_length": size}, "source": source,
                  "versions": versions, "golden_tolerance": golden_tolerance(target, TEXT),
                  **({"card": card} if card else {})})
    return Contract(
        input_shape=tuple(int(x) for x in backend.input_shape), layout=IMAGE_INPUT["layout"],
        input_dtype=str(backend.input_dtype), input_scale=iq[0] if iq else None, input_zero_point=iq[1] if iq else 0,
        output_scale=oq[0] if oq else None, output_zero_point=oq[1] if oq else 0, output_kind="probabilities",
        labels=tuple(labels), resize=IMAGE_INPUT["resize"], kind="image", format=target.format.name,
        precision=target.precision, output_shape=(1, len(labels)),
        output_dtype=str(getattr(backend, "output_dtype", "float32")),
        meta={"backbone": {"name": model["backbone"], "alpha": model["alpha"], "input_size": size},
              "source": source, "versions": versions, "golden_tolerance": golden_tolerance(target),
              **({"card": card} if card else {})})


def model_card(target: Target, train: TrainRecord, labels: list[str], *, author: str, license: str,
               version: str) -> dict[str, str]:
    """Name, description, version, author and licence of a run's artifact, for the standard metadata."""
    model, data, kind = train.model, train.data, train.kind
    task = Path(str(data.get("root") or "data")).stem or "data"
    acc = train.validation.get("top1")
    shown = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
    return {"name": f"{task} {kind} classifier ({model.get('backbone', 'model')})",
            "description": f"Classifies {kind}s into {len(labels)} classes ({shown}). Transfer learning from "
                           f"{model.get('backbone', 'a backbone')} with edgetl; exported as {target.name}"
                           + (f"; Keras validation top-1 {acc:.4f}." if isinstance(acc, (int, float)) else "."),
            "version": version, "author": author or "unknown (edgetl export --set author=...)",
            "license": license}


GOLDEN_JPEG_QUALITY = 95  # 4:4:4, no chroma subsampling: a 224-px photo is ~25 KB where its PNG was ~75 KB


def golden_jpegs(pixels: Any) -> tuple[list[str], np.ndarray]:
    """Each golden image as a JPEG (base64), and the pixels that edgetl's decoder reads back from it.

    The expected scores are the artifact's on the decoded pixels, so the selftest compares like with like; the
    decoder is libjpeg-turbo's accurate integer IDCT, whose SIMD paths (x86 and Arm) match its C code bit for bit.
    """
    from PIL import Image

    from ..runtime.image import load_rgb

    encoded, decoded = [], []
    for px in pixels:
        buf = io.BytesIO()
        Image.fromarray(np.asarray(px, np.uint8)).save(buf, format="JPEG", quality=GOLDEN_JPEG_QUALITY, subsampling=0)
        encoded.append(base64.b64encode(buf.getvalue()).decode())
        decoded.append(np.asarray(load_rgb(buf.getvalue(), None, name="golden image"), np.uint8))
    return encoded, np.stack(decoded) if decoded else np.zeros((0,), np.uint8)


def golden_entries(names: list[str], items: Any, score: Callable[[Any], np.ndarray], *,
                   encode: Callable[[Any], tuple[list[dict[str, Any]], Any]]) -> list[dict]:
    """Expected outputs for a few validation items, with their text or their image (a JPEG), for ``selftest``;
    ``score`` runs the artifact on a batch of items; ``encode`` (the modality's ``golden_fields``) gives each
    item's stored fields and the items as ``selftest`` will read them back."""
    fields, items = encode(items)
    return [{"name": name, "top1": int(np.argmax(s)), "scores": [round(float(v), 6) for v in s], **f}
            for name, s, f in zip(names, score(items), fields)]


def jpeg_fields(pixels: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Golden photos as JPEG fields, and the pixels edgetl's decoder reads back from them."""
    encoded, px = golden_jpegs(pixels)
    return [{"jpeg_base64": e} for e in encoded], px


def text_fields(texts: Any) -> tuple[list[dict[str, Any]], Any]:
    return [{"text": str(t)} for t in texts], texts
