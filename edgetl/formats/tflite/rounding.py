"""TFLite's side of activation-aware weight rounding (``edgetl/quantize/rounding.py`` has the math): the int8 1x1
convolutions and fully connected layers of a TFLite model, their real inputs in LiteRT, and the rewritten file."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...progress import track
from ...quantize.rounding import _accumulate, _hessians, _is_held, _new_stats, _rewrite, choose

INT64 = 4  # schema.TensorType.INT64


def _layers(model: Any) -> list[tuple[Any, str]]:
    """(op, kind) for the int8 1x1 convolutions and fully connected layers with constant weights."""
    from tensorflow.lite.python import schema_py_generated as schema

    b = schema.BuiltinOperator
    sg = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    out = []
    for op in sg.operators:
        code = codes[op.opcodeIndex]
        if len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        wt = sg.tensors[op.inputs[1]]
        if wt.type != schema.TensorType.INT8 or model.buffers[wt.buffer].data is None or wt.quantization is None:
            continue
        if sg.tensors[op.inputs[0]].type not in (schema.TensorType.INT8, schema.TensorType.UINT8,
                                                 schema.TensorType.INT16):  # int16: 16-bit activations (tflite:int16)
            continue
        if code == b.FULLY_CONNECTED and len(wt.shape) == 2:
            out.append((op, "fc"))
        elif code == b.CONV_2D and tuple(wt.shape[1:3]) == (1, 1):
            out.append((op, "conv1x1"))
    return out


def tflite_round_weights(quantized: bytes, calibrated: bytes, inputs: Iterable[np.ndarray], *,
                         mode: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """Re-round the int8 weights of ``quantized`` (from TFLite's quantizer) against their real inputs.

    Args:
        quantized: the int8 TFLite model.
        calibrated: the float model the quantizer started from (``_experimental_calibrate_only``): the source
            of the float weights, matched by the op's output tensor name.
        inputs: model inputs (float pixels), one per calibration example, without the batch axis.
        mode: force one rewrite (``clip`` or ``gptq``) instead of choosing on the held-back inputs (tests).

    Returns:
        the model bytes and a summary (layers changed, their output-error reduction, which candidate was
        chosen and the held-back output error of each).
    """
    from tensorflow.lite.tools import flatbuffer_utils as fu

    from .ranges import debug_interpreter, feed

    model = fu.read_model_from_bytearray(bytearray(quantized))
    sg = model.subgraphs[0]
    ref = fu.read_model_from_bytearray(bytearray(calibrated))
    rsg = ref.subgraphs[0]
    floats = {}
    for op in rsg.operators:
        if len(op.inputs) > 1 and op.inputs[1] >= 0 and op.outputs:
            t = rsg.tensors[op.inputs[1]]
            if ref.buffers[t.buffer].data is not None and t.type == 0 and t.shape is not None and len(t.shape):
                floats[rsg.tensors[op.outputs[0]].name] = np.frombuffer(
                    bytes(ref.buffers[t.buffer].data), np.float32).reshape(t.shape[0], -1)
    layers = [(op, k) for op, k in _layers(model) if sg.tensors[op.outputs[0]].name in floats]
    if not layers:
        return quantized, {"layers": 0}
    it = debug_interpreter(quantized, threads=2)
    inp = it.get_input_details()[0]
    stats: dict[int, list[Any]] = {id(op): _new_stats() for op, _ in layers}
    rng = np.random.default_rng(0)
    xs = list(inputs)
    for i, x in enumerate(track(xs, "weight rounding: layer inputs")):
        it.set_tensor(inp["index"], feed(inp, np.asarray(x, np.float32)))
        it.invoke()
        for op, kind in layers:
            t = sg.tensors[op.inputs[0]]
            a = it.get_tensor(op.inputs[0])
            if kind == "conv1x1":
                opt = op.builtinOptions
                a = a[:, ::max(opt.strideH, 1), ::max(opt.strideW, 1), :]
            a = (a.reshape(-1, a.shape[-1]).astype(np.float64) - t.quantization.zeroPoint[0]) * t.quantization.scale[0]
            _accumulate(stats[id(op)], a, rng, _is_held(i))

    hs = {sg.tensors[op.outputs[0]].name: _hessians(stats[id(op)]) for op, _ in layers}

    def build(mode: str) -> tuple[bytes, dict[str, Any]]:
        return _tflite_rewrite(quantized, floats, hs, mode)

    if mode is not None:
        return build(mode)
    held = [x for i, x in enumerate(xs) if _is_held(i)]
    return choose(quantized, build, lambda m: _tflite_outputs(m, held), _tflite_outputs(calibrated, held))


def _tflite_rewrite(quantized: bytes, floats: dict[str, np.ndarray], hs: dict[str, Any], mode: str
                    ) -> tuple[bytes, dict[str, Any]]:
    """``quantized`` with the layers named in ``hs`` re-rounded (``mode``: gptq or clip), as new bytes."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(quantized))
    sg = model.subgraphs[0]
    gains = []
    for op, _ in _layers(model):
        name = sg.tensors[op.outputs[0]].name
        if name not in hs:
            continue
        wt = sg.tensors[op.inputs[1]]
        w = floats[name].astype(np.float64)
        old_q = np.frombuffer(bytes(model.buffers[wt.buffer].data), np.int8).reshape(w.shape).astype(np.float64)
        old_s = np.broadcast_to(np.asarray(wt.quantization.scale, np.float64), (len(w),)).copy()
        per_channel = len(wt.quantization.scale) == len(w)
        got = _rewrite(w, old_q, old_s, hs[name], per_channel, mode)
        if got is None:
            continue
        q, new_s, gain = got
        gains.append(gain)
        model.buffers[wt.buffer].data = np.frombuffer(q.astype(np.int8).tobytes(), np.uint8)
        if per_channel:
            wt.quantization.scale = new_s.astype(np.float32)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bt = sg.tensors[op.inputs[2]]
            s_in = float(sg.tensors[op.inputs[0]].quantization.scale[0])
            buf = model.buffers[bt.buffer]
            bits = np.int64 if bt.type == INT64 else np.int32  # 16-bit activations have int64 biases
            bias = np.frombuffer(bytes(buf.data), bits).astype(np.float64) * (s_in * old_s)
            lim = 2.0**31 - 1 if bits is np.int32 else 2.0**62
            new_b = np.clip(np.round(bias / (s_in * new_s)), -lim, lim).astype(bits)
            buf.data = np.frombuffer(new_b.tobytes(), np.uint8)
            bt.quantization.scale = (s_in * new_s).astype(np.float32)
    summary = {"layers": len(gains), "candidates": len(hs),
               "output_error_reduction_median": round(float(np.median(gains)), 2) if gains else None}
    return bytes(fu.convert_object_to_bytearray(model)), summary


def _tflite_outputs(model: bytes, xs: list[np.ndarray]) -> np.ndarray:
    """The model's (dequantized) outputs on ``xs``, in LiteRT."""
    from .ranges import debug_interpreter, feed

    it = debug_interpreter(model, threads=2)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for x in xs:
        it.set_tensor(inp["index"], feed(inp, np.asarray(x, np.float32)))
        it.invoke()
        y = it.get_tensor(out["index"]).astype(np.float64)
        if out["dtype"] in (np.int8, np.uint8):
            scale, zp = out["quantization"]
            y = (y - zp) * scale
        rows.append(y.reshape(-1))
    return np.asarray(rows)
