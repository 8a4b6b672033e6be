"""Keras -> ONNX with tf2onnx (Keras' own ONNX export breaks on EfficientNet)."""
from __future__ import annotations

from typing import Any

from ..errors import ConversionError


def keras_to_onnx(model: Any, *, input_size: int, opset: int) -> Any:
    """Return an ``onnx.ModelProto`` taking float32 [N, size, size, 3] named ``image``.

    The batch dimension is dynamic: devices run batch 1 (the contract says [1, ...]); a server GPU can run
    a batch for throughput (``edgetl bench --batch N``).
    """
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, input_size, input_size, 3), tf.float32, name="image"),)
    from ..runtime.quiet import native_stderr_quiet

    try:
        with native_stderr_quiet():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as exc:
        raise ConversionError(f"tf2onnx could not convert the model (opset {opset}): {exc}. tf2onnx 1.17 supports "
                              "opsets up to 18.", details=str(exc)[-2000:]) from exc
    return proto


def set_metadata(proto: Any, key: str, value: str) -> None:
    for p in list(proto.metadata_props):
        if p.key == key:
            proto.metadata_props.remove(p)
    entry = proto.metadata_props.add()
    entry.key, entry.value = key, value


def to_float16(proto: Any) -> Any:
    """Weights and compute in float16, inputs and outputs kept float32 (ONNX Runtime's converter)."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise ConversionError("onnx:fp16 needs ONNX Runtime's float16 converter (onnxruntime.transformers). "
                              "Install onnxruntime>=1.17.") from exc
    try:
        return convert_float_to_float16(proto, keep_io_types=True)
    except Exception as exc:
        raise ConversionError(f"float16 conversion of the ONNX model failed: {exc}", details=str(exc)[-2000:]) from exc
