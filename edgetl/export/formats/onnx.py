"""ONNX export: tf2onnx (fp32), float16 conversion (fp16), ONNX Runtime static QDQ (int8); contract in metadata_props."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...config import ExportConfig
from ...targets import Target


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    from ...convert.keras_to_onnx import keras_to_onnx, to_float16
    from ...quantize.onnx_ptq import quantize_onnx

    proto = keras_to_onnx(inputs.model, input_size=inputs.size, opset=cfg.opset)
    if target.precision == "int8":
        proto = quantize_onnx(proto, mode=cfg.onnx_int8_mode, pixels=inputs.calibration,
                              per_channel=cfg.onnx_per_channel)
    elif target.precision == "fp16":
        proto = to_float16(proto)
    elif target.precision != "fp32":
        raise ValueError(f"no ONNX exporter for precision {target.precision!r}")
    return proto.SerializeToString(), sorted({n.op_type for n in proto.graph.node})


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    import onnx

    from ...convert.keras_to_onnx import set_metadata
    from ...runtime.contract import ONNX_METADATA_KEY

    proto = onnx.load_from_string(data)
    set_metadata(proto, ONNX_METADATA_KEY, json.dumps(contract, sort_keys=True))
    return proto.SerializeToString()


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.onnx import OnnxBackend

    return OnnxBackend(path, data)
