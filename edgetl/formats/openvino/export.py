"""OpenVINO IR export: the run's ONNX models (float, and the static QDQ int8 one) through ``openvino.convert_model``.

An IR is two files, ``model_<precision>.xml`` (the graph, with edgetl's contract and the SHA-256 of the weights in
its ``rt_info``) and ``model_<precision>.bin`` (the weights). Between the stages of export both travel as one
bytes value (:func:`pack`); :func:`write` puts them on disk, the weights first, so a reader never finds an XML
that names weights not yet written (and refuses weights that are not the XML's: ``runtime/openvino_file.py``).

The int8 IR is the ONNX exporter's QDQ model (the same calibration, weight rounding, sensitivity and selective
quantization), which OpenVINO turns into FakeQuantize and runs with int8 kernels; the range audit is the ONNX
model's, in ONNX Runtime.
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
from pathlib import Path
from typing import Any, Iterator

from ...config import ExportConfig
from ...errors import ConversionError
from ...targets import Target
from ..onnx import export as onnx_format

MAGIC = b"EDGETL-OPENVINO-IR\x00"
_QDQ = "_openvino_qdq"  # inputs.__dict__: weights SHA-256 -> the QDQ ONNX bytes the IR came from (range audit)


def pack(xml: bytes, weights: bytes) -> bytes:
    return MAGIC + struct.pack("<Q", len(xml)) + xml + weights


def unpack(data: bytes) -> tuple[bytes, bytes]:
    if not data.startswith(MAGIC):
        raise ConversionError("not an OpenVINO IR from edgetl's exporter")
    (n,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    return data[start:start + n], data[start + n:]


def convert(inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
    if target.precision == "fp32":
        proto = onnx_format.float_proto(inputs, cfg)
    elif target.precision == "int8":
        proto = onnx_format.int8_proto(inputs, cfg, inputs.rounding.setdefault(target.name, {}))
    else:
        raise ValueError(f"no OpenVINO exporter for precision {target.precision!r}")
    data = _from_onnx(inputs, proto.SerializeToString())
    return data, ops(data)


def _from_onnx(inputs: Any, onnx_bytes: bytes) -> bytes:
    """The IR of an ONNX model, in float32 (``save_model`` would halve the weights to float16 by default)."""
    import openvino as ov

    try:
        model = ov.convert_model(io.BytesIO(onnx_bytes))
    except Exception as exc:  # noqa: BLE001 - OpenVINO's frontends raise their own error types
        raise ConversionError(f"OpenVINO {ov.__version__.split('-')[0]} cannot convert the ONNX model: "
                              f"{' '.join(str(exc).split())[:400]}") from None
    data = _save(model)
    inputs.__dict__.setdefault(_QDQ, {})[hashlib.sha256(unpack(data)[1]).hexdigest()] = onnx_bytes
    return data


def _save(model: Any) -> bytes:
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="edgetl-openvino-") as tmp:
        xml = Path(tmp, "model.xml")
        ov.save_model(model, xml, compress_to_fp16=False)
        return pack(xml.read_bytes(), xml.with_suffix(".bin").read_bytes())


def embed(data: bytes, contract: dict[str, Any]) -> bytes:
    """The IR with the contract and the weights' SHA-256 in its ``rt_info`` (``<edgetl>``)."""
    import numpy as np
    import openvino as ov

    from ...runtime.openvino_file import RT_INFO_SECTION

    xml, weights = unpack(data)
    model = ov.Core().read_model(model=xml.decode("utf-8"), weights=ov.Tensor(np.frombuffer(weights, np.uint8).copy()))
    sha = hashlib.sha256(weights).hexdigest()
    model.set_rt_info(json.dumps(contract, sort_keys=True), [RT_INFO_SECTION, "contract"])
    model.set_rt_info(sha, [RT_INFO_SECTION, "weights_sha256"])
    out = _save(model)
    if hashlib.sha256(unpack(out)[1]).hexdigest() != sha:
        raise ConversionError("OpenVINO rewrote the weights while the contract was embedded; report this with the "
                              "OpenVINO version")
    return out


def write(path: Path, data: bytes) -> None:
    """The weights (``.bin``) first, then the XML that names them."""
    from ...artifacts import atomic_write_bytes

    xml, weights = unpack(data)
    atomic_write_bytes(path.with_suffix(".bin"), weights)
    atomic_write_bytes(path, xml)


def probe(path: Path, data: bytes) -> Any:
    from ...runtime.backends.openvino import OpenVinoBackend

    xml, weights = unpack(data)
    return OpenVinoBackend(path, xml, weights=weights)


def ops(data: bytes) -> list[str]:
    from ...runtime.openvino_file import read_ir

    return sorted(set(read_ir(unpack(data)[0], "the IR").types))


def rounds_weights(inputs: Any, cfg: ExportConfig) -> bool:
    return onnx_format.rounds_weights(inputs, cfg)


def float_bytes(inputs: Any, cfg: ExportConfig) -> bytes:
    return _from_onnx(inputs, onnx_format.float_bytes(inputs, cfg))


def sensitivity(inputs: Any, target: Target, cfg: ExportConfig, pixels: Any) -> list[dict[str, Any]]:
    """The ONNX QDQ model's per-layer table (the IR's layers keep the ONNX tensor names)."""
    return onnx_format.sensitivity(inputs, target, cfg, pixels)


def with_float_layers(inputs: Any, target: Target, cfg: ExportConfig, layers: list[str], pixels: Any) -> bytes:
    return _from_onnx(inputs, onnx_format.with_float_layers(inputs, target, cfg, layers, pixels))


def calibration_variants(inputs: Any, target: Target, cfg: ExportConfig) -> Iterator[tuple[str, bytes]]:
    for name, data in onnx_format.calibration_variants(inputs, target, cfg):
        yield name, _from_onnx(inputs, data)


def range_audit(inputs: Any, data: bytes, calib: Any, held: Any, total: int) -> dict[str, Any]:
    """The audit of the QDQ ONNX model this IR was converted from (its ranges are the IR's FakeQuantize ranges)."""
    qdq = inputs.__dict__.get(_QDQ, {}).get(hashlib.sha256(unpack(data)[1]).hexdigest())
    if qdq is None:
        return {"error": "the QDQ ONNX model of this IR is not at hand; the onnx:int8 artifact's audit applies"}
    out = onnx_format.range_audit(inputs, qdq, calib, held, total)
    return {**out, "runtime": "onnxruntime, on the QDQ ONNX model the IR was converted from"}
