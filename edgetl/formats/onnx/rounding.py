"""Activation-aware int8 weight rounding for ONNX Runtime QDQ models: the method of ``rounding.py`` (its
docstring says what and why), on int8 weights behind DequantizeLinear, candidates chosen the same way."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...progress import track
from ...quantize.rounding import _accumulate, _hessians, _is_held, _new_stats, _rewrite, choose


def onnx_round_weights(qdq: Any, pre_float: Any, inputs: Iterable[np.ndarray], *, mode: str | None = None
                       ) -> tuple[Any, dict[str, Any]]:
    """The same re-rounding for an ONNX Runtime QDQ model (int8 weights behind DequantizeLinear).

    Args:
        qdq: the QDQ ``onnx.ModelProto`` (changed in place and returned).
        pre_float: the float model the quantizer started from, after its pre-processing (its initializer
            names are those the quantized weights were named after).
        inputs: float model inputs, one per calibration example, without the batch axis.
    """
    import onnx

    floats = {i.name: i for i in pre_float.graph.initializer}
    layers = _layers(qdq, floats)
    if not layers:
        return qdq, {"layers": 0}
    xs = list(inputs)
    stats = _layer_input_stats(qdq, layers, xs)
    hs = {n.input[0]: _hessians(stats[n.input[0]]) for n, _ in layers}
    chosen = {n.output[0] for n, _ in layers}  # output names are unique in a graph
    picks = [k for k, n in enumerate(qdq.graph.node) if n.output and n.output[0] in chosen]

    def build(mode: str) -> tuple[Any, dict[str, Any]]:
        model = onnx.ModelProto()
        model.CopyFrom(qdq)
        return _onnx_rewrite(model, floats, picks, hs, mode)

    if mode is not None:
        return build(mode)
    held = [x for i, x in enumerate(xs) if _is_held(i)]
    return choose(qdq, build, lambda m: _onnx_outputs(m, held), _onnx_outputs(pre_float, held))



def _layers(qdq: Any, floats: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(node, its weights' DequantizeLinear) of the int8 1x1 convolutions and matrix products with float twins,
    by position (the candidates are built on copies of the model)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in qdq.graph.initializer}
    prod = {o: n for n in qdq.graph.node for o in n.output}
    layers = []
    for n in qdq.graph.node:
        if n.op_type not in ("Conv", "Gemm") or len(n.input) < 2:
            continue
        dq = prod.get(n.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
            continue
        src = dq.input[0][:-len("_quantized")] if dq.input[0].endswith("_quantized") else None
        if src not in floats or numpy_helper.to_array(inits[dq.input[0]]).dtype != np.int8:
            continue
        if n.op_type == "Conv" and (attr(n, "group", 1) != 1 or list(attr(n, "kernel_shape", [1, 1])) != [1, 1]):
            continue
        if n.op_type == "Gemm" and attr(n, "transA", 0):
            continue
        layers.append((n, dq))
    return layers


def _layer_input_stats(qdq: Any, layers: list[tuple[Any, Any]], xs: list[np.ndarray]) -> dict[str, list[Any]]:
    """Each layer input's accumulated statistics over the calibration inputs, in ONNX Runtime (the QDQ model's
    real, quantized and dequantized, inputs)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(qdq)
    known = {o.name for o in probe.graph.output}
    for n, _ in layers:
        if n.input[0] not in known:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(n.input[0]))
            known.add(n.input[0])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    wanted = sorted({n.input[0] for n, _ in layers})
    stats = {t: _new_stats() for t in wanted}
    strides = {n.input[0]: tuple(attr(n, "strides", [1, 1])) for n, _ in layers if n.op_type == "Conv"}
    rng = np.random.default_rng(0)
    for i, x in enumerate(track(xs, "weight rounding: layer inputs")):
        outs = sess.run(wanted, {name: np.asarray(x, np.float32)[None]})
        for t, a in zip(wanted, outs):
            if a.ndim == 4:
                sh, sw = strides.get(t, (1, 1))
                a = a[:, :, ::sh, ::sw].transpose(0, 2, 3, 1)
            a = a.reshape(-1, a.shape[-1]).astype(np.float64)
            _accumulate(stats[t], a, rng, _is_held(i))
    return stats

def attr(node: Any, name: str, default: Any) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _onnx_outputs(model: Any, xs: list[np.ndarray]) -> np.ndarray:
    """The model's first output on ``xs``, in ONNX Runtime (CPU)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.asarray([np.asarray(sess.run(None, {name: np.asarray(x, np.float32)[None]})[0], np.float64).reshape(-1)
                       for x in xs])


def _onnx_rewrite(qdq: Any, floats: dict[str, Any], picks: list[int], hs: dict[str, Any], mode: str
                  ) -> tuple[Any, dict[str, Any]]:
    """``qdq`` (a copy, changed in place) with the Conv/Gemm nodes at ``picks`` re-rounded (gptq or clip)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in qdq.graph.initializer}
    prod = {o: n for n in qdq.graph.node for o in n.output}
    layers = [(qdq.graph.node[k], prod[qdq.graph.node[k].input[1]]) for k in picks]
    gains = []
    for n, dq in layers:
        h = hs[n.input[0]]
        w = numpy_helper.to_array(floats[dq.input[0][:-len("_quantized")]]).astype(np.float64)
        q_init, s_init = inits[dq.input[0]], inits.get(dq.input[1])
        if s_init is None:
            continue
        q_old = numpy_helper.to_array(q_init).astype(np.float64)
        s_arr = numpy_helper.to_array(s_init).astype(np.float64)
        transposed = n.op_type == "Gemm" and not attr(n, "transB", 0)  # weights stored (in, out)
        rows = (w.T if transposed else w.reshape(w.shape[0], -1))
        q_rows = (q_old.T if transposed else q_old.reshape(q_old.shape[0], -1))
        per_channel = s_arr.size == rows.shape[0]
        s_old = np.broadcast_to(s_arr.reshape(-1), (rows.shape[0],)).copy()
        if rows.shape[1] != h.fit.shape[0]:
            continue
        got = _rewrite(rows, q_rows, s_old, h, per_channel, mode)
        if got is None:
            continue
        q, new_s, gain = got
        gains.append(gain)
        q_store = (q.T if transposed else q.reshape(w.shape)).astype(np.int8)
        q_init.CopyFrom(numpy_helper.from_array(q_store, q_init.name))
        if per_channel:
            s_init.CopyFrom(numpy_helper.from_array(new_s.astype(np.float32).reshape(s_arr.shape), s_init.name))
        bdq = prod.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if bdq is not None and bdq.op_type == "DequantizeLinear" and bdq.input[0] in inits and bdq.input[1] in inits:
            b_int, b_scale = inits[bdq.input[0]], inits[bdq.input[1]]
            old_bs = numpy_helper.to_array(b_scale).astype(np.float64)
            bias = numpy_helper.to_array(b_int).astype(np.float64) * old_bs
            s_in = old_bs / s_old  # bias scale = input scale x weight scale
            new_bs = s_in * new_s
            b_int.CopyFrom(numpy_helper.from_array(
                np.clip(np.round(bias / new_bs), -2**31, 2**31 - 1).astype(np.int32), b_int.name))
            b_scale.CopyFrom(numpy_helper.from_array(new_bs.astype(np.float32).reshape(old_bs.shape), b_scale.name))
    return qdq, {"layers": len(gains), "candidates": len(layers),
                 "output_error_reduction_median": round(float(np.median(gains)), 2) if gains else None}
