"""The activation-range audit in LiteRT (``edgetl/quantize/ranges.py`` says what it counts): a debug
interpreter that exposes every int8 activation tensor, and the share of its values at the ends of the range."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...quantize.ranges import _shares, summarize


def debug_interpreter(model: bytes, threads: int = 1) -> Any:
    """A LiteRT interpreter whose intermediate tensors stay readable after ``invoke``, allocated."""
    from ...runtime.backends.litert import _interpreter_module

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
    from ...runtime.bert_inputs import companions, roles

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
    from ...runtime.bert_inputs import roles

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
    from ...runtime.tflite_file import read_graph

    g = read_graph(model)
    return {t.index for t in g.tensors if t.constant}
