"""Activation-range audit: do held-back inputs leave the ranges the int8 model was calibrated on?

Calibration fixes each activation tensor's int8 range from the calibration images. Inputs that were not among
them (validation images here) can produce values outside that range; they are clipped to the range's end,
which is an error the calibration set never showed. The audit runs the quantized artifact in its own runtime on
the calibration inputs and on held-back inputs and counts, per activation tensor, the share of values at the
ends of the int8 range (TFLite: the stored int8 value is -128 or 127; ONNX QDQ: the float value entering a
QuantizeLinear lies beyond its range). A tensor whose held-back share is clearly above its calibration share
has a range that is too narrow for data like the held-back set.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..progress import track

CLIP_RATIO = 2.0   # held-back share of values at the range's ends, over the calibration share, to be named
CLIP_FLOOR = 1e-3  # and at least this share of the held-back values (0.1%): rarer clipping is noise


def summarize(calib: dict[str, float], held: dict[str, float], n_calib: int, n_held: int,
              calibration_total: int | None = None) -> dict[str, Any]:
    """Per-tensor clip shares on both sets -> the tensors whose range held-back data exceeds, worst first.
    ``calibration_total``: how many calibration inputs set the ranges (the audit reads ``n_calib`` of them)."""
    rows = []
    for name, h in held.items():
        c = calib.get(name, 0.0)
        if h >= CLIP_FLOOR and h > CLIP_RATIO * c:
            rows.append({"tensor": name, "heldback_clipped": round(h, 5), "calibration_clipped": round(c, 5)})
    rows.sort(key=lambda r: -r["heldback_clipped"])
    warnings = []
    if rows:
        worst = rows[0]
        of = f"{n_calib} of the {calibration_total}" if calibration_total and calibration_total > n_calib \
            else f"the {n_calib}"
        warnings.append(f"{len(rows)} activation tensor(s) clip more on {n_held} held-back images than on {of} "
                        f"calibration images (worst: {worst['tensor'][:80]}, {100 * worst['heldback_clipped']:.2f}% "
                        f"of values vs {100 * worst['calibration_clipped']:.2f}%): the calibration set does not "
                        "cover the data; raise export.calibration_images or make it more varied")
    return {"tensors_checked": len(held), "calibration_inputs": n_calib, "heldback_inputs": n_held,
            "calibration_total": calibration_total or n_calib,
            "split": "calibration (train) vs held-back (validation)", "exceeded": rows[:20],
            "tensors_exceeded": len(rows), "warnings": warnings}


def _shares(run: Callable[[np.ndarray], dict[str, tuple[int, int]]], inputs: np.ndarray) -> dict[str, float]:
    clipped: dict[str, int] = {}
    total: dict[str, int] = {}
    for x in track(inputs, "range audit"):
        for name, (k, n) in run(x).items():
            clipped[name] = clipped.get(name, 0) + k
            total[name] = total.get(name, 0) + n
    return {name: clipped[name] / total[name] for name in total if total[name]}


# ---------------------------------------------------------------- TFLite

def debug_interpreter(model: bytes, threads: int = 1) -> Any:
    """A LiteRT interpreter whose intermediate tensors stay readable after ``invoke``, allocated."""
    from ..runtime.backends.litert import _interpreter_module

    mod, _, _ = _interpreter_module("auto")
    import warnings

    with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": this is debugging
        warnings.simplefilter("ignore")
        # without the default (XNNPACK) delegate: a delegate keeps its intermediate tensors to itself
        it = mod.Interpreter(model_content=model, num_threads=threads, experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def feed(inp: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """``x`` (float, with or without the batch axis) as the input tensor ``inp`` takes it, quantized if int."""
    x = x[None] if x.ndim == len(inp["shape"]) - 1 else x
    if inp["dtype"] in (np.int8, np.uint8):
        scale, zp = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        return np.clip(np.round(x.astype(np.float32) / scale + zp), info.min, info.max).astype(inp["dtype"])
    return x.astype(inp["dtype"])


def set_input(it: Any, inp: dict[str, Any], x: np.ndarray) -> None:
    """Feed ``x`` to ``inp``, and a BERT-form text model's mask and segment ids beside its token ids."""
    from ..runtime.bert_inputs import companions, roles

    v = feed(inp, x)
    it.set_tensor(inp["index"], v)
    details = it.get_input_details()
    bert = roles(details)
    if bert:
        extra = companions(v)
        for d, r in zip(details, bert):
            if r != "ids":
                it.set_tensor(d["index"], extra[r])


def _ids_input(it: Any) -> dict[str, Any]:
    """The input that takes the data: the only one, or a BERT-form model's token ids."""
    from ..runtime.bert_inputs import roles

    details = it.get_input_details()
    bert = roles(details)
    return details[bert.index("ids")] if bert else details[0]


def tflite_audit(model: bytes, calib: np.ndarray, held: np.ndarray, float_model: bytes | None = None,
                 calibration_total: int | None = None) -> dict[str, Any]:
    """Clip shares of every quantized activation tensor of a TFLite model, in LiteRT.

    With ``float_model`` (the float model the quantizer started from; its tensors carry the same names) a value
    counts as clipped when the float model's value lies beyond the int8 tensor's range by more than half a step:
    what was really cut off. Without it, a stored value at an end of the range counts, which also counts values
    that merely reach the end: saturated pixels (0 or 255) land exactly on the ends of the in-graph
    normalization's range on calibration images too, which is not clipping (issue 29)."""
    it = debug_interpreter(model)
    inp = _ids_input(it)
    details = it.get_tensor_details()
    consts = _constant_tensors(model)
    watch = [d for d in details if d["dtype"] in (np.int8, np.uint8, np.int16) and d["index"] not in consts
             and d["index"] != inp["index"] and len(d["quantization_parameters"]["scales"]) == 1]
    ref = debug_interpreter(float_model) if float_model is not None else None
    twins: dict[int, int] = {}
    if ref is not None:
        by_name = {d["name"]: d["index"] for d in ref.get_tensor_details() if d["dtype"] == np.float32}
        twins = {d["index"]: by_name[d["name"]] for d in watch if d["name"] in by_name}
    rin = _ids_input(ref) if ref is not None else None

    ends, bounds = {}, {}
    for d in watch:  # an end of the range that stands for 0 (after a ReLU, a softmax) holds zeros, not clipped values
        info = np.iinfo(d["dtype"])
        zp = int(d["quantization_parameters"]["zero_points"][0])
        s = float(d["quantization_parameters"]["scales"][0])
        ends[d["index"]] = (info.min if zp != info.min else None, info.max if zp != info.max else None)
        bounds[d["index"]] = (s * (info.min - zp) - s / 2 if zp != info.min else -np.inf,
                              s * (info.max - zp) + s / 2 if zp != info.max else np.inf)

    def run(x: np.ndarray) -> dict[str, tuple[int, int]]:
        set_input(it, inp, x)
        it.invoke()
        if ref is not None:
            set_input(ref, rin, x)
            ref.invoke()
        out = {}
        if inp["dtype"] in (np.int8, np.uint8):  # the input's quantization clips what lies beyond its range
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            lo, hi = scale * (info.min - zp) - scale / 2, scale * (info.max - zp) + scale / 2
            out[inp["name"]] = (int(np.count_nonzero((x < lo) | (x > hi))), int(x.size))
        for d in watch:
            if d["index"] in twins:
                v = ref.get_tensor(twins[d["index"]])
                lo, hi = bounds[d["index"]]
                k = np.count_nonzero((v < lo) | (v > hi))
            else:
                v = it.get_tensor(d["index"])
                lo, hi = ends[d["index"]]
                k = (np.count_nonzero(v == lo) if lo is not None else 0) + (np.count_nonzero(v == hi)
                                                                              if hi is not None else 0)
            out[d["name"]] = (int(k), int(v.size))
        return out

    res = summarize(_shares(run, calib), _shares(run, held), len(calib), len(held), calibration_total)
    res["measure"] = ("float values beyond the quantized range" if twins else "stored values at an end of the range")
    return res


def _constant_tensors(model: bytes) -> set[int]:
    """Indices of tensors backed by a non-empty buffer (weights, biases, constants) in subgraph 0."""
    from ..runtime.tflite_file import read_graph

    g = read_graph(model)
    return {t.index for t in g.tensors if t.constant}


# ---------------------------------------------------------------- ONNX (QDQ)

def onnx_audit(qdq: Any, calib: np.ndarray, held: np.ndarray, calibration_total: int | None = None
               ) -> dict[str, Any]:
    """Clip shares of the float tensors entering each QuantizeLinear of a QDQ model, in ONNX Runtime."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
    graph_inputs = {i.name for i in qdq.graph.input}
    ranges: dict[str, tuple[float, float]] = {}
    for n in qdq.graph.node:
        if n.op_type != "QuantizeLinear" or n.input[0] in inits:
            continue
        scale = inits.get(n.input[1])
        zp = inits.get(n.input[2]) if len(n.input) > 2 else np.zeros((), np.uint8)
        if scale is None or zp is None or scale.size != 1:
            continue
        info = np.iinfo(zp.dtype)
        s, z = float(scale.reshape(())), int(zp.reshape(()))
        # an end that stands for 0 marks a ReLU the quantizer folded into the range: below it is the ReLU's work
        ranges[n.input[0]] = (-np.inf if z == info.min else s * (info.min - z) - s / 2,
                              np.inf if z == info.max else s * (info.max - z) + s / 2)
    if not ranges:
        return {"tensors_checked": 0, "tensors_exceeded": 0, "exceeded": [], "warnings": [],
                "skipped": "no fixed activation ranges: dynamic quantization computes them for each input"}
    m = onnx.ModelProto()
    m.CopyFrom(qdq)
    have = {o.name for o in m.graph.output}
    for name in ranges:
        if name not in have and name not in graph_inputs:
            m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [k for k in ranges if k not in graph_inputs]
    in_name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> dict[str, tuple[int, int]]:
        x = x[None] if x.ndim == len(sess.get_inputs()[0].shape) - 1 else x
        x = x if x.dtype.kind == "i" else x.astype(np.float32)
        vals = sess.run(names, {in_name: x})
        out = {}
        for name, v in [*zip(names, vals), *((k, x) for k in ranges if k in graph_inputs)]:
            lo, hi = ranges[name]
            out[name] = (int(np.count_nonzero((v <= lo) | (v >= hi))), int(v.size))
        return out

    return summarize(_shares(run, calib), _shares(run, held), len(calib), len(held), calibration_total)
