"""MACs, parameters and memory of ONNX and Keras models (the TFLite reader is in tflite_stats)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .report import LayerStat, ModelReport

_ONNX_BYTES = {1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
_ONNX_NAMES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
               11: "float64", 16: "bfloat16"}


def _load_with_shapes(p: Path) -> Any:
    """The ONNX model at ``p`` with its inferred shapes; external data is checked and never read (shapes come
    from dims)."""
    import onnx
    from onnx import shape_inference

    from ..errors import ModelFileError
    from ..runtime.limits import MAX_MODEL_BYTES, read_bounded
    from ..runtime.onnx_file import check_external_data, read_onnx

    data = read_bounded(p, MAX_MODEL_BYTES)
    check_external_data(read_onnx(data, str(p)), p)
    try:
        return shape_inference.infer_shapes(onnx.load_from_string(data))
    except Exception as exc:  # google.protobuf DecodeError, onnx's own errors: all mean "not a usable ONNX file"
        raise ModelFileError(f"{p}: not a valid ONNX model ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})."
                             " Export or copy the file again.") from None


def _shapes_and_types(g: Any) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Every named tensor's shape (unknown sizes as 1) and element type."""
    shapes: dict[str, tuple[int, ...]] = {}
    types: dict[str, int] = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        shapes[vi.name] = tuple(d.dim_value if d.dim_value > 0 else 1 for d in t.shape.dim)
        types[vi.name] = t.elem_type
    for i in g.initializer:
        shapes[i.name] = tuple(i.dims)
        types[i.name] = i.data_type
    return shapes, types


def analyze_onnx(path: str | Path) -> ModelReport:
    from onnx import numpy_helper

    p = Path(path)
    model = _load_with_shapes(p)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    shapes, types = _shapes_and_types(g)

    def elems(name: str) -> int:
        return int(np.prod(shapes.get(name, (0,)))) if name in shapes else 0

    layers, ops, last_use, producer = [], {}, {}, {}
    for k, n in enumerate(g.node):
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
        out = n.output[0] if n.output else ""
        macs = 0
        if n.op_type in ("Conv", "ConvInteger", "QLinearConv") and len(n.input) > 1:
            w = n.input[3] if n.op_type == "QLinearConv" else n.input[1]
            ws = shapes.get(w, ())
            if len(ws) == 4:
                macs = elems(out) * ws[1] * ws[2] * ws[3]
        elif n.op_type in ("Gemm", "MatMul", "MatMulInteger") and len(n.input) > 1:
            a = shapes.get(n.input[0], ())
            macs = elems(out) * (a[-1] if a else 0)
        params = sum(elems(i) for i in n.input if i in inits)
        layers.append(LayerStat(k, n.op_type, n.name or out, macs, params, shapes.get(out, ())))
        for i in n.input:
            last_use[i] = k
        for o in n.output:
            producer[o] = k
    for o in g.output:
        last_use[o.name] = len(g.node) - 1
    acts = [(producer.get(nm, 0), last_use.get(nm, producer.get(nm, 0)), nm) for nm in shapes
            if nm not in inits and (nm in producer or nm in {i.name for i in g.input})]
    nbytes = {nm: elems(nm) * _ONNX_BYTES.get(types.get(nm, 1), 4) for _, _, nm in acts}
    totals = [sum(nbytes[nm] for s, e, nm in acts if s <= k <= e) for k in range(len(g.node))]
    at = max(range(len(totals)), key=totals.__getitem__) if totals else None  # the first node at the peak
    peak = totals[at] if at is not None else 0
    peak_at = layers[at].name if peak > 0 else None
    by_dtype: dict[str, int] = {}
    for i in g.initializer:
        b = numpy_helper.to_array(i).nbytes
        by_dtype[_ONNX_NAMES.get(i.data_type, str(i.data_type))] = by_dtype.get(_ONNX_NAMES.get(i.data_type, "?"), 0) + b
    inp, outp = g.input[0].name, g.output[0].name
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return ModelReport(path=str(p), format="onnx", input_shape=shapes.get(inp, ()),
                       input_dtype=_ONNX_NAMES.get(types.get(inp, 1), "?"), output_shape=shapes.get(outp, ()),
                       layers=layers, params=sum(elems(i) for i in inits if len(shapes[i]) > 0 and elems(i) > 8),
                       weight_bytes_by_dtype=by_dtype, peak_activation_bytes=peak, peak_at=peak_at,
                       largest_activations=[{"name": nm, "shape": list(shapes[nm]), "bytes": nbytes[nm]} for nm in
                                            sorted(nbytes, key=lambda x: -nbytes[x])[:3]],
                       ops={f"{k} (opset {opset})": v for k, v in sorted(ops.items())}, file_bytes=p.stat().st_size,
                       family="depthwise" if any(n.op_type == "Conv" and any(a.name == "group" and a.i > 1
                                                                                 for a in n.attribute)
                                                 for n in g.node) else "dense")


def keras_layer_macs(layer: Any) -> int:
    import keras

    name = type(layer).__name__
    try:
        out = layer.output.shape
        inp = layer.input.shape
    except (AttributeError, ValueError):
        return 0
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return int(np.prod(out[1:])) * kh * kw
    if isinstance(layer, keras.layers.Conv2D) and name != "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        return int(np.prod(out[1:])) * kh * kw * int(inp[-1]) // max(layer.groups, 1)
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(out[1:])) * int(inp[-1])
    return 0


_CHEAP_ACTIVATIONS = {"relu", "relu6", "linear", "leaky_relu", "elu"}  # folded into the op before them


def _keras_op(layer: Any) -> str:
    """A layer's op name; an Activation layer named by its function when that costs more than a clip (hard_swish,
    swish, sigmoid, softmax: edgetl.analysis.cost.ACTIVATION_OPS)."""
    name = type(layer).__name__
    if name == "Activation":
        fn = getattr(getattr(layer, "activation", None), "__name__", "")
        if fn and fn not in _CHEAP_ACTIVATIONS:
            return fn
    return name


def analyze_keras(path: str | Path | None = None, model: Any = None, *, unsafe: bool = False) -> ModelReport:
    import keras

    if model is None:
        from ..model_io import load_keras

        model = load_keras(path, unsafe=unsafe)

    def walk(m: Any) -> list[Any]:
        out = []
        for layer in m.layers:
            out.extend(walk(layer) if isinstance(layer, keras.Model) else [layer])
        return out

    layers = [LayerStat(i, _keras_op(l), l.name, keras_layer_macs(l), int(l.count_params()),
                        tuple(int(d or 1) for d in l.output.shape)) for i, l in enumerate(walk(model))]
    by_dtype: dict[str, int] = {}
    for w in model.weights:
        by_dtype[str(w.dtype)] = by_dtype.get(str(w.dtype), 0) + int(np.prod(w.shape)) * np.dtype(str(w.dtype)).itemsize
    ops: dict[str, int] = {}
    for s in layers:
        ops[s.op] = ops.get(s.op, 0) + 1
    return ModelReport(path=str(path or model.name), format="keras",
                       input_shape=tuple(int(d or 1) for d in model.input_shape), input_dtype="float32",
                       output_shape=tuple(int(d or 1) for d in model.output_shape), layers=layers,
                       params=int(model.count_params()), weight_bytes_by_dtype=by_dtype, peak_activation_bytes=None,
                       peak_at=None, ops=ops, file_bytes=Path(path).stat().st_size if path else 0,
                       family="depthwise" if "DepthwiseConv2D" in ops else "dense",
                       notes=["peak activation memory is computed for .tflite and .onnx files (export first)"])
