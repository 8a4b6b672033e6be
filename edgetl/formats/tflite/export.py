"""TFLite export: ``model.export()`` SavedModel + ``TFLiteConverter.from_saved_model``, contract in metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ...config import ExportConfig
from ...targets import Target



def write(path: Path, data: bytes) -> None:
    from ...artifacts import atomic_write_bytes

    atomic_write_bytes(path, data)

def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    if target.calibrated and rounds_weights(inputs, cfg):
        data = _rounded(inputs, target, cfg, [], summary=inputs.rounding.setdefault(target.name, {}))
        return data, ops(data)
    data = _plain(inputs, target, cfg)
    return data, ops(data)


def _plain(inputs: Any, target: Target, cfg: ExportConfig) -> bytes:
    """The converter's artifact for ``target``, calibrated on the run's calibration inputs where it needs them."""
    from .convert import saved_model_to_tflite
    from ...quantize.calibration import representative

    rep = representative(inputs.calibration, keep_dtype=inputs.modality.integer_inputs) if target.calibrated else None
    data = saved_model_to_tflite(inputs.saved_model, target, representative=rep, allow_flex_ops=cfg.allow_flex_ops,
                                 integer_io=inputs.modality.integer_io)
    if target.activation_bits == 16:
        _loads(data, target)
    return data


def _loads(data: bytes, target: Target) -> None:
    """LiteRT prepares the model, or a ConversionError says why. TFLite's 16x8 quantizer writes a model that
    LiteRT refuses when an activation range from the calibration inputs is (nearly) zero: the fused ReLU bound
    no longer fits int32 at that scale (seen on a barely trained model whose layers are silent)."""
    from ...errors import ConversionError
    from .ranges import debug_interpreter

    try:
        debug_interpreter(data)
    except (RuntimeError, ValueError) as exc:
        raise ConversionError(
            f"{target}: LiteRT refuses the 16-bit-activation model ({str(exc).strip().splitlines()[-1][:200]}): "
            "an activation range from the calibration inputs is (nearly) zero, so a layer is silent on them. "
            "Calibrate on more varied data (export.calibration_images), or export tflite:int8.",
            details=str(exc)[-2000:]) from exc


def rounds_weights(inputs: Any, cfg: ExportConfig) -> bool:
    """Whether int8 weights get activation-aware rounding: image models, unless turned off."""
    return cfg.round_weights and inputs.modality.rounds_weights


def ops(data: bytes) -> list[str]:
    from .stats import op_name
    from ...runtime.tflite_file import read_opcodes

    return sorted({f"{op_name(o.builtin_code, o.custom_code)} v{o.version}" for o in read_opcodes(data)})


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    """The edgetl contract and the standard TFLite metadata (for MediaPipe and the Task Library), with the
    labels (and a text model's vocabulary) as associated files zipped onto the end."""
    from .convert import embed_metadata
    from ...runtime.tflite_file import CONTRACT_METADATA_NAME
    from .metadata import METADATA_NAME, attach_files, build, card_of

    from ...runtime.tflite_file import read_graph

    g = read_graph(data)
    meta, files = build(contract, card_of(contract), [g.tensors[i].name for i in g.inputs])
    data = embed_metadata(data, {CONTRACT_METADATA_NAME: json.dumps(contract, sort_keys=True).encode(),
                                 METADATA_NAME: meta})
    return attach_files(data, files)


def range_audit(inputs: Any, data: bytes, calib: Any, held: Any, total: int) -> dict[str, Any]:
    """The activation-range audit in LiteRT, against the calibrated float twin (its tensors are named like the
    int8 model's; text models have none: token ids)."""
    from .ranges import tflite_audit

    twin = calibrated(inputs, inputs.config) if inputs.tokenizer is None else None
    return tflite_audit(data, calib, held, float_model=twin, calibration_total=total)


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.litert import LiteRTBackend

    return LiteRTBackend(path, data)


def _converter(inputs: Any, target: Target, cfg: ExportConfig) -> Any:
    from .convert import make_converter
    from ...quantize.calibration import representative

    return make_converter(inputs.saved_model, target, representative=representative(inputs.calibration),
                          allow_flex_ops=cfg.allow_flex_ops)


def sensitivity(inputs: Any, target: Target, cfg: ExportConfig, debug_pixels: Any) -> list[dict[str, Any]]:
    from .sensitivity import tflite_sensitivity

    return tflite_sensitivity(_converter(inputs, target, cfg), debug_pixels)


def calibrated(inputs: Any, cfg: ExportConfig) -> bytes:
    """The calibrated float model, made once per export and shared by the rounding variant and the search."""
    from .convert import calibrated_model
    from ...quantize.calibration import representative

    cache = inputs.__dict__.setdefault("_tflite_calibrated", {})
    if cfg.allow_flex_ops not in cache:
        cache[cfg.allow_flex_ops] = calibrated_model(inputs.saved_model, "tflite:int8",
                                                     representative=representative(inputs.calibration),
                                                     allow_flex_ops=cfg.allow_flex_ops)
    return cache[cfg.allow_flex_ops]


def _rounded(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str],
             summary: dict[str, Any] | None = None) -> bytes:
    """The quantized model with its int8 weights re-rounded (``quantize/rounding.py``); ``summary`` gets what
    the rounding chose. 16-bit activations come from the converter's own quantizer (MLIR's takes int8 only)."""
    from .convert import quantize_calibrated
    from .rounding import tflite_round_weights

    cal = calibrated(inputs, cfg)
    plain = _plain(inputs, target, cfg) if target.activation_bits == 16 else quantize_calibrated(cal, target, layers)
    data, info = tflite_round_weights(plain, cal, inputs.calibration)
    if summary is not None:
        summary.update(info)
    return data


def with_float_layers(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str], debug_pixels: Any) -> bytes:
    """The int8 model with ``layers`` (tensor names from the sensitivity table) float, its weights re-rounded."""
    return _rounded(inputs, target, cfg, layers)


def calibration_variants(inputs: Any, target: Target, cfg: ExportConfig) -> Iterator[tuple[str, bytes]]:
    """What costs no speed, tried before any layer is kept in float: activation-aware weight rounding
    (``edgetl/quantize/rounding.py``) when the artifact was exported without it. TFLite's converter offers no
    other calibration than its min-max."""
    if inputs.modality.rounds_weights and not rounds_weights(inputs, cfg) and target.activation_bits == 8:
        yield "weight rounding", _rounded(inputs, target, cfg, [])


def float_bytes(inputs: Any, cfg: ExportConfig) -> bytes:
    from .convert import saved_model_to_tflite

    return saved_model_to_tflite(inputs.saved_model, "tflite:fp32", allow_flex_ops=cfg.allow_flex_ops)
