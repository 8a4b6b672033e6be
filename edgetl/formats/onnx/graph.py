"""Which of an int8 ONNX model's compute nodes ONNX Runtime's CPU provider really runs on integer kernels here.

ONNX Runtime turns a QDQ file into its own graph when it loads it, and that graph depends on the CPU: on an
AMD EPYC (AVX-512 VNNI) it kept 27 of 68 compute nodes of the main job's MobileNetV2 in float (15 Conv
between DequantizeLinear and QuantizeLinear, 11 Add, 1 Mul), on arm64 it ran them as QLinearConv, QLinearAdd
and QLinearMul (``benchmarks/arm64_check.py``). So verification on such a machine measures a partly float
model, and an Arm board's accuracy can differ: the export report says how many ran in float here.
"""
from __future__ import annotations

import collections
import tempfile
from pathlib import Path
from typing import Any

FLOAT_COMPUTE = {"Conv", "com.microsoft.nchwc.Conv", "com.microsoft.FusedConv", "Add", "Mul", "MatMul", "Gemm",
                 "com.microsoft.FusedGemm", "com.microsoft.FusedMatMul"}
INTEGER_PREFIXES = ("QLinear", "QGemm", "MatMulInteger", "ConvInteger", "DynamicQuantize")


def op_counts(model: Any) -> dict[str, int]:
    """Node counts of an ``onnx.ModelProto`` by ``domain.op_type`` (the default domain unnamed)."""
    return dict(collections.Counter(f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in model.graph.node)
                .most_common())


def kernel_split(ops: dict[str, int]) -> dict[str, int]:
    """Compute nodes that run integer kernels against those that run in float, in an optimized graph."""
    integer = sum(n for k, n in ops.items() if k.split(".")[-1].startswith(INTEGER_PREFIXES))
    return {"integer": integer, "float": sum(n for k, n in ops.items() if k in FLOAT_COMPUTE)}


def runtime_graph(path: Path) -> dict[str, Any]:
    """ONNX Runtime's optimized graph of ``path`` on this CPU: node counts and the integer/float split."""
    import onnx
    import onnxruntime as ort

    from ...runtime.quiet import native_stderr_quiet

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        so.intra_op_num_threads = 1
        so.log_severity_level = 3  # "serializing an optimized model" is what this is for
        with native_stderr_quiet():
            ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        ops = op_counts(onnx.load(so.optimized_model_filepath))
    return {"onnxruntime": ort.__version__, "ops": ops, **kernel_split(ops)}


def float_warning(graph: dict[str, Any]) -> str | None:
    n = graph["integer"] + graph["float"]
    if not graph["float"]:
        return None
    return (f"ONNX Runtime {graph['onnxruntime']} on this CPU runs {graph['float']} of {n} compute nodes of this "
            "int8 model in float, so its verification here measured a partly float model; on Arm CPUs it runs them "
            "on integer kernels, and the two give other scores (benchmarks/RESULTS.md, arm64 in a box): "
            "measure accuracy on the board (edgetl bench --device ...)")


def graph_report(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The export report's ``runtime_graph`` and its warning; a note instead without the onnx package."""
    try:
        graph = runtime_graph(path)
    except ImportError as exc:  # the onnx package reads the optimized graph
        return {"error": f"not counted: {exc}"}, []
    warning = float_warning(graph)
    return graph, [warning] if warning else []
