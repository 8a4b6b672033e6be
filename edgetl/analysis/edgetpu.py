"""Edge TPU lint without the compiler: what would map to the Edge TPU, where it would partition, and why.

Rules from Coral's published model requirements (coral.ai/docs/edgetpu/models-intro): tensors are
8-bit quantized, shapes are static, at most the 3 innermost dimensions are larger than 1, and only
the listed operations map; the compiler maps ops in order until the first one it cannot, and that op
and everything after it run on the CPU. Parameters beyond the on-chip cache (about 8 MB) stream from
the host on every inference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime.limits import MAX_MODEL_BYTES, read_bounded
from ..runtime.tflite_file import TensorInfo, read_graph
from ..formats.tflite.stats import op_name

SUPPORTED = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS", "FULLY_CONNECTED",
    "L2_NORMALIZATION", "LOGISTIC", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU",
    "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUEEZE", "STRIDED_SLICE",
    "SUB", "SUM", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "UNIDIRECTIONAL_SEQUENCE_LSTM",
}
PARAMETER_CACHE_BYTES = 8 * 1024 * 1024
SOFTMAX_MAX_ELEMENTS = 16000
FIXES = {
    "HARD_SWISH": "use ReLU6 activations (MobileNetV2, EfficientNet-Lite) instead of hard-swish",
    "DEQUANTIZE": "quantize fully (tflite:uint8 or tflite:int8) so no float tensors remain",
    "FLEX": "remove TensorFlow Select ops; use builtin-only layers",
    "LOG_SOFTMAX": "end the model with SOFTMAX",
    "GATHER": "replace the gather with a supported slice or reshape",
}


@dataclass
class EdgeTPULint:
    maps_fully: bool
    full_int8: bool
    static_shapes: bool
    ops_total: int
    ops_mapped: int
    partition_op: str | None
    partition_index: int | None
    reasons: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    parameter_bytes: int = 0
    parameter_cache_bytes: int = PARAMETER_CACHE_BYTES
    parameters_fit_cache: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _too_many_dims(t: TensorInfo) -> bool:
    return len([d for d in t.shape[:-3] if d > 1]) > 0


def lint_edgetpu(path: str | Path) -> EdgeTPULint:
    g = read_graph(read_bounded(path, MAX_MODEL_BYTES), str(path))
    reasons: list[str] = []
    fixes: list[str] = []
    tensors = g.tensors
    float_tensors = [t for t in tensors if t.dtype in ("float32", "float16") and not (t.constant and t.elements <= 1)]
    full_int8 = not float_tensors
    if not full_int8:
        reasons.append(f"not fully quantized: {len(float_tensors)} float tensors (e.g. {float_tensors[0].name[:80]!r}); "
                       "the Edge TPU runs 8-bit integer tensors only")
        fixes.append("export tflite:uint8 (full-integer quantization with uint8 input/output)")
    dynamic = [t for t in tensors if any(d < 0 for d in t.shape_signature)]
    if dynamic:
        reasons.append(f"{len(dynamic)} tensors have dynamic shapes (e.g. {dynamic[0].name[:60]!r} "
                       f"{list(dynamic[0].shape_signature)}); the Edge TPU needs static shapes")
        fixes.append("export with a fixed batch size of 1 (edgetl export does)")
    partition = None
    for op in g.operators:
        name = op_name(op.opcode.builtin_code, op.opcode.custom_code)
        why = None
        if name not in SUPPORTED:
            why = f"{name} is not an Edge TPU operation"
            key = "FLEX" if name.startswith("Flex") else name
            fixes.append(FIXES.get(key, f"replace {name} with a supported operation or move it after the model"))
        else:
            touched = [tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0]
            floats = [t for t in touched if t.dtype in ("float32", "float16") and not t.constant]
            big = [t for t in touched if not t.constant and _too_many_dims(t)]  # filters are 4-D by design
            if floats:
                why = f"{name} works on float tensors ({floats[0].name[:60]!r})"
            elif big:
                why = f"{name} has a tensor with more than 3 non-trivial dimensions {list(big[0].shape)}"
                fixes.append("reshape so that only the 3 innermost dimensions exceed 1")
            elif name == "SOFTMAX" and tensors[op.inputs[0]].elements > SOFTMAX_MAX_ELEMENTS:
                why = f"SOFTMAX over {tensors[op.inputs[0]].elements} elements (limit {SOFTMAX_MAX_ELEMENTS})"
        if why is not None:
            partition = (op.index, name, why)
            break
    mapped = partition[0] if partition else len(g.operators)
    if partition:
        reasons.append(f"partition at op {partition[0]} ({partition[1]}): {partition[2]}; it and the "
                       f"{len(g.operators) - partition[0] - 1} ops after it run on the CPU")
    params = sum(t.data_bytes for t in tensors if t.constant)
    fits = params <= PARAMETER_CACHE_BYTES
    if not fits:
        reasons.append(f"parameters take {params / 2**20:.1f} MiB, more than the ~8 MiB on-chip cache: they stream "
                       "from the host on every inference, which is slow (worst over USB)")
        fixes.append("use a smaller backbone or width multiplier (alpha), or fewer head units")
    maps_fully = full_int8 and not dynamic and partition is None
    return EdgeTPULint(maps_fully, full_int8, not dynamic, len(g.operators), mapped,
                       partition[1] if partition else None, partition[0] if partition else None, reasons,
                       list(dict.fromkeys(fixes)), params, PARAMETER_CACHE_BYTES, fits)
