"""Keras -> ONNX with tf2onnx (Keras' own ONNX export breaks on EfficientNet)."""
from __future__ import annotations

from typing import Any

from ...errors import ConversionError


def keras_to_onnx(model: Any, *, input_size: int, opset: int,
                  signature: tuple[tuple[int, ...], str, str] | None = None) -> Any:
    """Return an ``onnx.ModelProto`` taking float32 [N, size, size, 3] named ``image``.

    The batch dimension is dynamic: devices run batch 1 (the contract says [1, ...]); a server GPU can run
    a batch for throughput (``edgetl bench --batch N``).
    """
    import tensorflow as tf
    import tf2onnx

    shape, dtype, name = signature or ((input_size, input_size, 3), "float32", "image")
    spec = (tf.TensorSpec((None, *shape), getattr(tf, dtype), name=name),)
    from ...runtime.quiet import native_stderr_quiet

    import logging

    erfc_note = _DropErfcNotes()
    logging.getLogger("tf2onnx.tfonnx").addFilter(erfc_note)
    try:
        with native_stderr_quiet():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as exc:
        raise ConversionError(f"tf2onnx could not convert the model (opset {opset}): {exc}. tf2onnx 1.17 supports "
                              "opsets up to 18.", details=str(exc)[-2000:]) from exc
    finally:
        logging.getLogger("tf2onnx.tfonnx").removeFilter(erfc_note)
    _replace_erfc(proto)
    return proto


class _DropErfcNotes:
    """tf2onnx logs Erfc (exact GELU) as unsupported and keeps it as a placeholder that _replace_erfc rewrites."""

    def filter(self, record: Any) -> bool:
        msg = record.getMessage()
        return not ("Erfc" in msg and ("not supported" in msg or "Unsupported ops" in msg))


def _replace_erfc(proto: Any) -> None:
    """tf2onnx writes TensorFlow's Erfc (from exact GELU) as an ONNX op that does not exist: use 1 - Erf(x)."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = proto.graph
    nodes = list(g.node)
    if not any(n.op_type == "Erfc" for n in nodes):
        return
    one = "edgetl_erfc_one"
    g.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
    out = []
    for n in nodes:
        if n.op_type == "Erfc":
            tmp = n.output[0] + "_erf"
            out.append(helper.make_node("Erf", [n.input[0]], [tmp], name=n.name + "_erf"))
            out.append(helper.make_node("Sub", [one, tmp], [n.output[0]], name=n.name + "_one_minus"))
        else:
            out.append(n)
    del g.node[:]
    g.node.extend(out)


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
        out = convert_float_to_float16(proto, keep_io_types=True)
    except Exception as exc:
        raise ConversionError(f"float16 conversion of the ONNX model failed: {exc}", details=str(exc)[-2000:]) from exc
    topological_sort(out.graph)
    return out


def topological_sort(graph: Any) -> None:
    """Order ``graph``'s nodes so that each comes after the producers of its inputs, as the ONNX standard requires
    (``onnx.checker`` refuses otherwise). ONNX Runtime's float16 converter appends the input and output Casts at the
    end of the node list; ONNX Runtime sorts by itself, other loaders (the checker, OpenVINO's reader, web runtimes)
    need not. Stable: nodes already in order keep their order."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[Any] = []
    while pending:
        rest = []
        for n in pending:
            if all(i in known for i in n.input):
                ordered.append(n)
                known.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):  # a cycle or an input nothing produces: leave the rest as it was
            ordered += rest
            break
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
