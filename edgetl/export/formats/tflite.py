"""TFLite export: ``model.export()`` SavedModel + ``TFLiteConverter.from_saved_model``, contract in metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...config import ExportConfig
from ...targets import Target


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    from ...convert.keras_to_tflite import saved_model_to_tflite
    from ...quantize.calibration import representative

    rep = representative(inputs.calibration, keep_dtype=inputs.kind == "text") if target.calibrated else None
    data = saved_model_to_tflite(inputs.saved_model, target, representative=rep, allow_flex_ops=cfg.allow_flex_ops,
                                 integer_io=inputs.kind != "text")
    return data, ops(data)


def ops(data: bytes) -> list[str]:
    from ...analysis.tflite_stats import op_name
    from ...runtime.tflite_file import read_opcodes

    return sorted({f"{op_name(o.builtin_code, o.custom_code)} v{o.version}" for o in read_opcodes(data)})


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    from ...convert.keras_to_tflite import embed_metadata
    from ...runtime.tflite_file import CONTRACT_METADATA_NAME

    return embed_metadata(data, CONTRACT_METADATA_NAME, json.dumps(contract, sort_keys=True).encode())


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.litert import LiteRTBackend

    return LiteRTBackend(path, data)


def _converter(inputs: Any, target: Target, cfg: ExportConfig) -> Any:
    from ...convert.keras_to_tflite import make_converter
    from ...quantize.calibration import representative

    return make_converter(inputs.saved_model, target, representative=representative(inputs.calibration),
                          allow_flex_ops=cfg.allow_flex_ops)


def sensitivity(inputs: Any, target: Target, cfg: ExportConfig, debug_pixels: Any) -> list[dict[str, Any]]:
    from ...quantize.selective import tflite_sensitivity

    return tflite_sensitivity(_converter(inputs, target, cfg), debug_pixels)


def with_float_layers(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str], debug_pixels: Any) -> bytes:
    from ...quantize.selective import tflite_with_float_layers

    return tflite_with_float_layers(_converter(inputs, target, cfg), debug_pixels, layers, target.full_integer)


def calibration_variants(inputs: Any, target: Target, cfg: ExportConfig) -> list[tuple[str, bytes]]:
    """Other calibrations that cost no speed; TFLite's converter offers none beyond its per-channel min-max."""
    return []


def float_bytes(inputs: Any, cfg: ExportConfig) -> bytes:
    from ...convert.keras_to_tflite import saved_model_to_tflite

    return saved_model_to_tflite(inputs.saved_model, "tflite:fp32", allow_flex_ops=cfg.allow_flex_ops)
