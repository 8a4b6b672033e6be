"""Build the contract document for an exported artifact, and its golden images."""
from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from ..runtime.contract import SCHEMA

# fp16 is "float16 quantization" in TFLite terms (weights rounded to half precision): it gets the
# quantized budget, not the float agreement rule.
FLOAT_TARGETS = ("tflite:fp32", "onnx:fp32")
GOLDEN_TOLERANCE = 0.02


def make_contract(target: str, backend: Any, *, size: int, labels: list[str], train: dict[str, Any],
                  source: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
    fmt, precision = target.split(":")
    iq = backend.input_quant
    oq = backend.output_quant
    model = train["model"]
    return {
        "schema": SCHEMA, "format": fmt, "precision": precision,
        "input": {"name": "image", "shape": [int(x) for x in backend.input_shape], "layout": "NHWC",
                  "dtype": str(backend.input_dtype), "color": "RGB", "range": [0, 255],
                  "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "resize": "bilinear",
                  "normalization": "inside the model graph: feed RGB pixels 0..255",
                  "quantization": {"scale": iq[0], "zero_point": iq[1]} if iq else None},
        "output": {"shape": [1, len(labels)], "kind": "probabilities",
                   "dtype": str(getattr(backend, "output_dtype", "float32")),
                   "quantization": {"scale": oq[0], "zero_point": oq[1]} if oq else None},
        "labels": labels,
        "backbone": {"name": model["backbone"], "alpha": model["alpha"], "input_size": size},
        "source": source, "versions": versions, "golden_tolerance": GOLDEN_TOLERANCE,
    }


def png_base64(pixels: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def golden_entries(names: list[str], pixels: np.ndarray, scores: np.ndarray, *, with_images: bool) -> list[dict]:
    out = []
    for name, px, s in zip(names, pixels, scores):
        e: dict[str, Any] = {"name": name, "top1": int(np.argmax(s)), "scores": [round(float(v), 6) for v in s]}
        if with_images:
            e["png_base64"] = png_base64(px)
        out.append(e)
    return out
