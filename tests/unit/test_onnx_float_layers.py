"""Selective ONNX int8: a float layer keeps the activation ONNX Runtime fuses with it (real ONNX Runtime)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgetl.formats.onnx.int8 import float_nodes, quantize_onnx


def _model() -> onnx.ModelProto:
    """x -> conv1 -> relu1 -> conv2 -> clip2 -> conv3 -> add(conv3, clip2) -> y."""
    rng = np.random.default_rng(0)
    w = {f"w{i}": numpy_helper.from_array(rng.normal(0, 0.5, (4, 4 if i > 1 else 3, 3, 3)).astype(np.float32), f"w{i}")
         for i in (1, 2, 3)}
    lo, hi = numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"], name="clip2"),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c3", "r2"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
                              initializer=[*w.values(), lo, hi])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_an_activation_and_its_producer_stay_float_together() -> None:
    g = _model().graph
    assert sorted(float_nodes(g, ["r1"])) == ["conv1", "relu1"]  # the activation brings its producer
    assert sorted(float_nodes(g, ["c2"])) == ["clip2", "conv2"]  # and a producer its only activation
    assert float_nodes(g, ["c3"]) == ["conv3"]  # no activation after conv3
    assert float_nodes(g, ["nope"]) == []


def test_the_quantized_model_has_no_range_for_a_float_pre_activation_tensor() -> None:
    """Keeping relu1 float alone would quantize conv1's output (before the Relu) on its own; with the group
    conv1's weights and output stay float, and the rest is int8 as before."""
    pixels = np.random.default_rng(1).normal(0, 1, (8, 3, 8, 8)).astype(np.float32)
    plain = quantize_onnx(_model(), mode="static", pixels=pixels, per_channel=True)
    sel = quantize_onnx(_model(), mode="static", pixels=pixels, per_channel=True, tensors_in_float=["r1"])

    def quantized(m: onnx.ModelProto) -> set[str]:
        return {n.input[0] for n in m.graph.node if n.op_type == "QuantizeLinear"}

    def conv_weight_dq(m: onnx.ModelProto, name: str) -> bool:
        conv = next(n for n in m.graph.node if n.op_type == "Conv" and n.name == name)
        producers = {o: n.op_type for n in m.graph.node for o in n.output}
        return producers.get(conv.input[1]) == "DequantizeLinear"

    assert "c1" not in quantized(sel)  # no range of its own for the tensor before the Relu
    assert "r1" in quantized(sel)  # the Relu's output feeds conv2, which is int8
    assert conv_weight_dq(plain, "conv1") and not conv_weight_dq(sel, "conv1")
    assert conv_weight_dq(sel, "conv2") and conv_weight_dq(sel, "conv3")
    assert any(n.op_type == "Relu" for n in sel.graph.node)


def test_a_float_conv_stays_float_in_onnx_runtime() -> None:
    """conv3 reads a DequantizeLinear and feeds the quantized Add: ONNX Runtime's WeightBiasQuantization would
    quantize its float weights at load time (per tensor) unless ``keep_float`` breaks the pattern."""
    import onnxruntime as ort

    pixels = np.random.default_rng(1).normal(0, 1, (8, 3, 8, 8)).astype(np.float32)
    sel = quantize_onnx(_model(), mode="static", pixels=pixels, per_channel=True, tensors_in_float=["c3"])
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # where the transformer runs
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = str(Path(tmp, "opt.onnx"))
        ort.InferenceSession(sel.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        optimized = onnx.load(opts.optimized_model_filepath)
    producers = {o: n.op_type for n in optimized.graph.node for o in n.output}
    conv3 = next(n for n in optimized.graph.node if n.name == "conv3")
    assert producers.get(conv3.input[1]) != "DequantizeLinear"  # its weights are still float
    outs = []
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        sess = ort.InferenceSession(sel.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        outs.append(sess.run(None, {"x": pixels[:1]})[0])
    np.testing.assert_allclose(*outs, atol=1e-4)  # optimized or not, the same numbers
