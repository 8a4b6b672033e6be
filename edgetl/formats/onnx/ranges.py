"""The activation-range audit in ONNX Runtime (``edgetl/quantize/ranges.py`` says what it counts): the float value
entering each QuantizeLinear of a QDQ model, against its range."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...quantize.ranges import _shares, summarize


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
