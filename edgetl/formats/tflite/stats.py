"""Per-layer MACs, parameters, weight bytes and peak activation memory of a TFLite model (no TensorFlow)."""
from __future__ import annotations

from pathlib import Path

from ...runtime.limits import MAX_MODEL_BYTES, read_bounded
from ...runtime.tflite_file import Graph, TensorInfo, read_graph, read_metadata
from ...analysis.report import LayerStat, ModelReport
from .ops import BUILTIN_OPS


def op_name(code: int, custom: str | None) -> str:
    return custom if custom else BUILTIN_OPS.get(code, f"OP_{code}")


def _is_param(t: TensorInfo) -> bool:
    """Weights and biases; not the small int32 shape/axis constants that ops like RESHAPE carry."""
    return t.constant and not (t.dtype == "int32" and t.elements <= 8)


def _macs(op: str, g: Graph, ins: list[TensorInfo | None], outs: list[TensorInfo]) -> int:
    out = outs[0] if outs else None
    if out is None:
        return 0
    w = ins[1] if len(ins) > 1 else None
    if op == "CONV_2D" and w is not None and len(w.shape) == 4:
        return out.elements * w.shape[1] * w.shape[2] * w.shape[3]
    if op == "DEPTHWISE_CONV_2D" and w is not None and len(w.shape) == 4:
        return out.elements * w.shape[1] * w.shape[2]
    if op == "FULLY_CONNECTED" and w is not None and len(w.shape) == 2:
        return out.elements * w.shape[1]
    if op == "TRANSPOSE_CONV" and len(ins) > 2 and ins[1] is not None and ins[2] is not None:
        wt, x = ins[1], ins[2]
        return x.elements * wt.shape[0] * wt.shape[1] * wt.shape[2] if len(wt.shape) == 4 else 0
    if op == "BATCH_MATMUL" and ins[0] is not None and len(ins[0].shape) >= 2:
        return out.elements * ins[0].shape[-1]
    return 0


def analyze_tflite(path: str | Path) -> ModelReport:
    p = Path(path)
    data = read_bounded(p, MAX_MODEL_BYTES)
    g = read_graph(data, str(p))
    tensors = g.tensors
    layers: list[LayerStat] = []
    ops: dict[str, int] = {}
    producer: dict[int, int] = {}
    last_use: dict[int, int] = {}
    for op in g.operators:
        name = op_name(op.opcode.builtin_code, op.opcode.custom_code)
        key = f"{name} v{op.opcode.version}"
        ops[key] = ops.get(key, 0) + 1
        ins = [tensors[i] if i >= 0 else None for i in op.inputs]
        outs = [tensors[i] for i in op.outputs]
        params = sum(t.elements for t in ins if t is not None and _is_param(t))
        layers.append(LayerStat(op.index, name, outs[0].name if outs else "", _macs(name, g, ins, outs), params,
                                outs[0].shape if outs else (), op.opcode.version))
        for i in op.inputs:
            if i >= 0:
                last_use[i] = op.index
        for o in op.outputs:
            producer[o] = op.index
    n_ops = len(g.operators)
    for o in g.outputs:
        last_use[o] = n_ops - 1
    # Peak activation memory: tensors live from their producer (graph inputs: from the start) to their last use.
    live_ranges = []
    for t in tensors:
        if t.constant or (t.index not in producer and t.index not in g.inputs):
            continue
        start = producer.get(t.index, 0)
        end = max(last_use.get(t.index, start), start)
        live_ranges.append((start, end, t))
    peak, peak_at = 0, None
    for i in range(n_ops):
        total = sum(t.nbytes for s, e, t in live_ranges if s <= i <= e)
        if total > peak:
            peak, peak_at = total, layers[i].name if layers else None
    by_dtype: dict[str, int] = {}
    consts = [t for t in tensors if t.constant]
    for t in consts:
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.data_bytes
    acts: dict[str, int] = {}
    for _, _, t in live_ranges:
        acts[t.dtype] = acts.get(t.dtype, 0) + t.nbytes
    meta = read_metadata(data, str(p))
    inp, out = tensors[g.inputs[0]], tensors[g.outputs[0]]
    family = "depthwise" if any(layer.op == "DEPTHWISE_CONV_2D" for layer in layers) else "dense"
    return ModelReport(
        path=str(p), format="tflite", input_shape=inp.shape, input_dtype=inp.dtype, output_shape=out.shape,
        layers=layers, params=sum(t.elements for t in consts if _is_param(t)),
        weight_bytes_by_dtype=by_dtype, peak_activation_bytes=peak, peak_at=peak_at,
        largest_activations=[{"name": t.name, "shape": list(t.shape), "bytes": t.nbytes}
                             for t in sorted((r[2] for r in live_ranges), key=lambda t: -t.nbytes)[:3]],
        largest_weights=[{"name": t.name, "shape": list(t.shape), "bytes": t.data_bytes}
                         for t in sorted(consts, key=lambda t: -t.data_bytes)[:3]],
        ops=dict(sorted(ops.items())), min_runtime_version=(meta.get("min_runtime_version") or b"").rstrip(b"\0")
        .decode(errors="replace") or None, file_bytes=len(data), family=family, activation_bytes_by_dtype=acts)
