"""Keras -> SavedModel (fixed batch 1) -> TFLite in six precisions, builtin ops only unless asked.

``model.export`` + ``TFLiteConverter.from_saved_model`` is used because ``from_concrete_functions``
on Keras 3 models gives a tiny file that returns NaN, and Keras' own LiteRT export turns on Select
TF ops, which Pi and Coral runtimes lack.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from ...errors import ConversionError



def keras_to_saved_model(model: Any, path: str | Path, *, input_size: int | None = None,
                         signature: tuple[tuple[int, ...], str, str] | None = None, bert_form: bool = False) -> Path:
    """Export ``model`` as a SavedModel with batch 1: float32 [1, size, size, 3] named ``image``, or
    ``signature`` = (shape without the batch, dtype, name), e.g. ((64,), "int32", "tokens") for a text model.

    ``bert_form``: a text model takes the three inputs phone task libraries feed a BERT model (``ids``, ``mask``,
    ``segment_ids``; ``runtime/bert_inputs.py``); the model sees ``ids * mask * (1 - segment_ids)``, which is
    the ids themselves for one sentence whose mask marks its tokens."""
    import tensorflow as tf

    shape, dtype, name = signature or ((input_size, input_size, 3), "float32", "image")
    spec: Any = [tf.TensorSpec((1, *shape), getattr(tf, dtype), name=name)]
    if bert_form:
        import keras

        from ...runtime.bert_inputs import ROLES

        ins = {r: keras.Input(shape, dtype="int32", name=r) for r in ROLES}
        ids = keras.ops.multiply(keras.ops.multiply(ins["ids"], ins["mask"]), keras.ops.subtract(1, ins["segment_ids"]))
        model = keras.Model([ins[r] for r in ROLES], model(ids), name="edgetl_bert_form")
        spec = [[tf.TensorSpec((1, *shape), tf.int32, name=r) for r in ROLES]]
    try:
        model.export(str(path), format="tf_saved_model", input_signature=spec, verbose=False)
    except Exception as exc:
        raise ConversionError(f"Keras could not export the model as a SavedModel: {exc}") from exc
    return Path(path)

if TYPE_CHECKING:
    from ...targets import Target


def make_converter(saved_model: str | Path, target: "Target | str", *,
                   representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
                   allow_flex_ops: bool = False) -> Any:
    """The configured ``TFLiteConverter`` for ``target`` (also what the quantization debugger takes)."""
    conv, _ = _converter(saved_model, target, representative, allow_flex_ops)
    return conv


def calibrated_model(saved_model: str | Path, target: "Target | str", *,
                     representative: Callable[[], Iterable[list[np.ndarray]]], allow_flex_ops: bool = False) -> bytes:
    """The float model with calibrated activation ranges, before quantization (TFLite's first half of int8).

    :func:`quantize_calibrated` finishes it; the two together give what :func:`saved_model_to_tflite` gives,
    and selective quantization calibrates once and quantizes many times.
    """
    from ...runtime.quiet import native_stderr_quiet

    conv, _ = _converter(saved_model, target, representative, allow_flex_ops)
    conv.experimental_mlir_quantizer = True
    conv._experimental_calibrate_only = True  # noqa: SLF001 - the documented route of TF's quantization debugger
    with native_stderr_quiet():
        return bytes(conv.convert())


def quantize_calibrated(calibrated: bytes, target: "Target | str", float_nodes: Iterable[str] = ()) -> bytes:
    """Quantize a :func:`calibrated_model` for a full-integer target, leaving ``float_nodes`` (tensor names) float."""
    import tensorflow as tf
    from tensorflow.lite.python import convert as tf_convert

    from ...runtime.quiet import native_stderr_quiet
    from ...targets import get

    t = get(target if ":" in target else f"tflite:{target}") if isinstance(target, str) else target
    io = {"int8": tf.int8, "uint8": tf.uint8}[t.io_dtype]
    with native_stderr_quiet():
        return bytes(tf_convert.mlir_quantize(calibrated, input_data_type=io, output_data_type=io,
                                              denylisted_nodes=list(float_nodes) or None))


def saved_model_to_tflite(saved_model: str | Path, target: "Target | str", *,
                          representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
                          allow_flex_ops: bool = False, integer_io: bool = True) -> bytes:
    """Convert a SavedModel to TFLite bytes.

    Args:
        target: A TFLite target (or its precision): fp32, fp16 (float16 weights), dynamic (int8 weights, float
            activations), int8 (full integer with int8 input/output), uint8 (full integer with uint8 I/O) or
            int16 (16-bit activations, int8 weights, float32 I/O).
        representative: Calibration batches for int8/uint8: float32 pixels preprocessed as in training.
        allow_flex_ops: Also allow TensorFlow Select ops (off by default: edge runtimes lack them).
        integer_io: Full-integer targets take and give int8/uint8 (images); False keeps a text model's int32
            token ids in and float probabilities out.
    """
    conv, precision = _converter(saved_model, target, representative, allow_flex_ops, integer_io)
    from ...runtime.quiet import native_stderr_quiet

    try:
        with native_stderr_quiet():
            return bytes(conv.convert())
    except Exception as exc:
        msg = str(exc)
        flex = sorted(set(re.findall(r"\btf\.([A-Z]\w+)", msg)))
        if flex and not allow_flex_ops:
            raise ConversionError(
                f"TFLite {precision}: the model needs TensorFlow ops that are not TFLite builtins: "
                f"{', '.join(flex)}. Edge runtimes (Pi, Coral, phones without Flex) cannot run them. Replace those "
                "layers, or set allow_flex_ops=true if the target ships the Select TF ops library.",
                details=msg[-2000:]) from exc
        if "Empty min/max for tensor" in msg and precision == "int16":
            raise ConversionError(
                "TFLite int16: the model computes on its integer input (token ids) before the first float layer, "
                "and TFLite's 16-bit-activation quantizer cannot quantize that; text runs trained by an older edgetl "
                "(text train stage 2 or earlier) do: train the run again, or export tflite:dynamic.",
                details=msg[-2000:]) from exc
        raise ConversionError(f"TFLite {precision} conversion failed: {msg.strip().splitlines()[-1][:400]}",
                              details=msg[-2000:]) from exc


def _converter(saved_model: str | Path, target: "Target | str", representative: Any,
               allow_flex_ops: bool, integer_io: bool = True) -> tuple[Any, str]:
    import tensorflow as tf

    from ...targets import TFLITE, get

    t = get(target if ":" in target else f"tflite:{target}") if isinstance(target, str) else target
    if t.format is not TFLITE:
        raise ConversionError(f"{t.name} is not a TFLite target.")
    precision = t.precision
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if t.quantized:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    if t.calibrated:
        if representative is None:
            raise ConversionError(f"TFLite {precision} needs calibration images (a representative dataset).")
        conv.representative_dataset = representative
    if t.activation_bits == 16:  # 16x8; an op without a 16x8 kernel stays float (ops lists what it became)
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
               tf.lite.OpsSet.TFLITE_BUILTINS]
    elif t.full_integer and not integer_io:
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]  # int32 ids in, float out
    elif t.full_integer:
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = {"int8": tf.int8, "uint8": tf.uint8}[t.io_dtype]
        conv.inference_input_type = io
        conv.inference_output_type = io
    if allow_flex_ops:
        ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
    conv.target_spec.supported_ops = ops
    return conv, precision


def embed_metadata(tflite: bytes, entries: dict[str, bytes]) -> bytes:
    """Add (or replace) metadata entries ``{name: payload}`` in a TFLite flatbuffer, in one re-pack."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(tflite))
    kept = [m for m in (model.metadata or []) if (m.name.decode() if isinstance(m.name, bytes) else m.name)
            not in entries]
    for name, payload in entries.items():
        buf = schema.BufferT()
        buf.data = np.frombuffer(payload, dtype=np.uint8)
        model.buffers.append(buf)
        meta = schema.MetadataT()
        meta.name = name
        meta.buffer = len(model.buffers) - 1
        kept.append(meta)
    model.metadata = kept
    return bytes(fu.convert_object_to_bytearray(model))
