"""TFLite export: ``model.export()`` SavedModel + ``TFLiteConverter.from_saved_model``, contract in metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ...config import ExportConfig
from ...targets import Target


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    from ...convert.keras_to_tflite import saved_model_to_tflite
    from ...quantize.calibration import representative

    if target.calibrated and rounds_weights(inputs, cfg):
        data = _rounded(inputs, target, cfg, [])
        return data, ops(data)
    rep = representative(inputs.calibration, keep_dtype=inputs.kind == "text") if target.calibrated else None
    data = saved_model_to_tflite(inputs.saved_model, target, representative=rep, allow_flex_ops=cfg.allow_flex_ops,
                                 integer_io=inputs.kind != "text")
    return data, ops(data)


def rounds_weights(inputs: Any, cfg: ExportConfig) -> bool:
    """Whether int8 weights get activation-aware rounding: image models, unless turned off."""
    return cfg.round_weights and inputs.kind != "text"


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


def _calibrated(inputs: Any, cfg: ExportConfig) -> bytes:
    """The calibrated float model, made once per export and shared by the rounding variant and the search."""
    from ...convert.keras_to_tflite import calibrated_model
    from ...quantize.calibration import representative

    cache = inputs.__dict__.setdefault("_tflite_calibrated", {})
    if cfg.allow_flex_ops not in cache:
        cache[cfg.allow_flex_ops] = calibrated_model(inputs.saved_model, "tflite:int8",
                                                     representative=representative(inputs.calibration),
                                                     allow_flex_ops=cfg.allow_flex_ops)
    return cache[cfg.allow_flex_ops]


def _rounded(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str]) -> bytes:
    from ...convert.keras_to_tflite import quantize_calibrated
    from ...quantize.rounding import tflite_round_weights

    cal = _calibrated(inputs, cfg)
    data, _ = tflite_round_weights(quantize_calibrated(cal, target, layers), cal, inputs.calibration)
    return data


def with_float_layers(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str], debug_pixels: Any) -> bytes:
    """The int8 model with ``layers`` (tensor names from the sensitivity table) float, its weights re-rounded."""
    return _rounded(inputs, target, cfg, layers)


def calibration_variants(inputs: Any, target: Target, cfg: ExportConfig) -> Iterator[tuple[str, bytes]]:
    """What costs no speed, tried before any layer is kept in float: activation-aware weight rounding
    (``edgetl/quantize/rounding.py``) when the artifact was exported without it. TFLite's converter offers no
    other calibration than its min-max."""
    if inputs.kind != "text" and not rounds_weights(inputs, cfg):
        yield "weight rounding", _rounded(inputs, target, cfg, [])


def float_bytes(inputs: Any, cfg: ExportConfig) -> bytes:
    from ...convert.keras_to_tflite import saved_model_to_tflite

    return saved_model_to_tflite(inputs.saved_model, "tflite:fp32", allow_flex_ops=cfg.allow_flex_ops)
