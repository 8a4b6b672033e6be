"""TFLite export: ``model.export()`` SavedModel + ``TFLiteConverter.from_saved_model``, contract in metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...config import ExportConfig
from ...targets import Target


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    from ...analysis.tflite_stats import op_name
    from ...convert.keras_to_tflite import saved_model_to_tflite
    from ...quantize.calibration import representative
    from ...runtime.tflite_file import read_opcodes

    rep = representative(inputs.calibration) if target.calibrated else None
    data = saved_model_to_tflite(inputs.saved_model, target, representative=rep, allow_flex_ops=cfg.allow_flex_ops)
    ops = sorted({f"{op_name(o.builtin_code, o.custom_code)} v{o.version}" for o in read_opcodes(data)})
    return data, ops


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    from ...convert.keras_to_tflite import embed_metadata
    from ...runtime.tflite_file import CONTRACT_METADATA_NAME

    return embed_metadata(data, CONTRACT_METADATA_NAME, json.dumps(contract, sort_keys=True).encode())


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.litert import LiteRTBackend

    return LiteRTBackend(path, data)
