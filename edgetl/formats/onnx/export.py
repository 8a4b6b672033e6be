"""ONNX export: tf2onnx (fp32), float16 conversion (fp16), ONNX Runtime static QDQ (int8); contract in metadata_props."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ...config import ExportConfig
from ...targets import Target


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    from .convert import to_float16

    proto = _float(inputs, cfg)
    if target.precision == "int8":
        proto = int8_proto(inputs, cfg, inputs.rounding.setdefault(target.name, {}))
    elif target.precision == "fp16":
        proto = to_float16(proto)
    elif target.precision != "fp32":
        raise ValueError(f"no ONNX exporter for precision {target.precision!r}")
    return proto.SerializeToString(), sorted({n.op_type for n in proto.graph.node})


def int8_proto(inputs: Any, cfg: ExportConfig, summary: dict[str, Any]) -> Any:
    """The run's int8 ONNX model (static QDQ for images, dynamic for text), quantized once per export and shared
    with the formats converted from it (OpenVINO IR); ``summary`` gets what the weight rounding chose."""
    from .int8 import quantize_onnx

    cache = inputs.__dict__.setdefault("_onnx_int8", {})
    key = (cfg.opset, cfg.onnx_int8_mode, cfg.onnx_per_channel, rounds_weights(inputs, cfg))
    if key not in cache:
        got: dict[str, Any] = {}
        cache[key] = (quantize_onnx(_float(inputs, cfg), mode=inputs.modality.onnx_int8_mode
                                    or cfg.onnx_int8_mode, pixels=inputs.calibration,
                                    per_channel=cfg.onnx_per_channel, round_weights=rounds_weights(inputs, cfg),
                                    summary=got), got)
    summary.update(cache[key][1])
    return cache[key][0]


def write(path: Path, data: bytes) -> None:
    from ...artifacts import atomic_write_bytes

    atomic_write_bytes(path, data)


def ops(data: bytes) -> list[str]:
    import onnx

    return sorted({n.op_type for n in onnx.load_from_string(data).graph.node})


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    import onnx

    from .convert import set_metadata
    from ...runtime.contract import ONNX_METADATA_KEY

    proto = onnx.load_from_string(data)
    set_metadata(proto, ONNX_METADATA_KEY, json.dumps(contract, sort_keys=True))
    return proto.SerializeToString()


def range_audit(inputs: Any, data: bytes, calib: Any, held: Any, total: int) -> dict[str, Any]:
    """The activation-range audit in ONNX Runtime (QDQ ranges against held-back inputs)."""
    import onnx

    from .ranges import onnx_audit

    return onnx_audit(onnx.load_from_string(data), calib, held, calibration_total=total)


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.onnx import OnnxBackend

    return OnnxBackend(path, data)


def float_proto(inputs: Any, cfg: ExportConfig) -> Any:
    """The float ONNX model of this run (shared with the formats converted from it)."""
    return _float(inputs, cfg)


def _float(inputs: Any, cfg: ExportConfig) -> Any:
    """The float ONNX model of this run, converted once per export (shared by fp32, fp16, int8 and the search)."""
    from .convert import keras_to_onnx

    cache = inputs.__dict__.setdefault("_onnx_float", {})
    if cfg.opset not in cache:
        cache[cfg.opset] = keras_to_onnx(inputs.model, input_size=inputs.size, opset=cfg.opset,
                                         signature=inputs.signature)
    return cache[cfg.opset]


def rounds_weights(inputs: Any, cfg: ExportConfig) -> bool:
    """Whether int8 weights get activation-aware rounding: image models, static QDQ, unless turned off."""
    return cfg.round_weights and inputs.modality.rounds_weights and cfg.onnx_int8_mode == "static"


def sensitivity(inputs: Any, target: Target, cfg: ExportConfig, debug_pixels: Any) -> list[dict[str, Any]]:
    from .int8 import quantize_onnx
    from .sensitivity import onnx_sensitivity

    f = _float(inputs, cfg)
    q = quantize_onnx(f, mode=cfg.onnx_int8_mode, pixels=inputs.calibration, per_channel=cfg.onnx_per_channel)
    return onnx_sensitivity(f, q, debug_pixels)


def with_float_layers(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str], debug_pixels: Any) -> bytes:
    from .int8 import quantize_onnx

    return quantize_onnx(_float(inputs, cfg), mode=cfg.onnx_int8_mode, pixels=inputs.calibration,
                         per_channel=cfg.onnx_per_channel, tensors_in_float=layers,
                         round_weights=rounds_weights(inputs, cfg)).SerializeToString()


def calibration_variants(inputs: Any, target: Target, cfg: ExportConfig) -> Iterator[tuple[str, bytes]]:
    """What costs no speed, tried before any layer is kept in float, in this order: activation-aware weight
    rounding (``edgetl/quantize/rounding.py``) on min-max ranges when the artifact was exported without it,
    then entropy and percentile ranges (with the artifact's weight rounding)."""
    from .int8 import quantize_onnx

    if cfg.onnx_int8_mode != "static":
        return
    f = _float(inputs, cfg)
    if inputs.modality.rounds_weights and not rounds_weights(inputs, cfg):
        yield "weight rounding", quantize_onnx(f, mode="static", pixels=inputs.calibration,
                                               per_channel=cfg.onnx_per_channel, round_weights=True).SerializeToString()
    for m in ("entropy", "percentile"):
        yield m, quantize_onnx(f, mode="static", pixels=inputs.calibration, per_channel=cfg.onnx_per_channel,
                               calibrate_method=m, round_weights=rounds_weights(inputs, cfg)).SerializeToString()


def float_bytes(inputs: Any, cfg: ExportConfig) -> bytes:
    return _float(inputs, cfg).SerializeToString()
