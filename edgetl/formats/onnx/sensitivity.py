"""The per-layer sensitivity table of a QDQ ONNX model: ONNX Runtime's QDQ debugger (signal-to-quantization-noise
ratio of each activation), worst first."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...progress import track


def onnx_sensitivity(float_proto: Any, qdq_proto: Any, debug_pixels: np.ndarray) -> list[dict[str, Any]]:
    """Per-tensor SQNR of the QDQ model against the float one (ONNX Runtime's qdq_loss_debug), worst first;
    ``layer`` is the tensor (what ``quantize_onnx(tensors_in_float=...)`` takes), ``node`` its producer."""
    import tempfile
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_activation_error,
                                                         create_activation_matching,
                                                         modify_model_output_intermediate_tensors)

    name = float_proto.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(track(debug_pixels, "sensitivity"))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {name: x[None].astype(np.float32)}

    producer = {o: n.name or n.op_type for n in float_proto.graph.node for o in n.output}
    with tempfile.TemporaryDirectory(prefix="edgetl-qdq-") as tmp:
        paths = {}
        for k, proto in (("float", float_proto), ("qdq", qdq_proto)):
            src, aug = Path(tmp, f"{k}.onnx"), Path(tmp, f"{k}_aug.onnx")
            onnx.save(proto, src)
            modify_model_output_intermediate_tensors(src, aug)
            paths[k] = aug
        acts_f = collect_activations(str(paths["float"]), Reader())
        acts_q = collect_activations(str(paths["qdq"]), Reader())
    errors = compute_activation_error(create_activation_matching(acts_q, acts_f))
    rows = []
    for tensor, e in errors.items():
        sqnr = e.get("xmodel_err")
        if sqnr is None or tensor not in producer:
            continue
        rows.append({"layer": tensor, "node": producer[tensor], "sqnr_db": round(float(sqnr), 2)})
    rows.sort(key=lambda r: r["sqnr_db"])
    return rows
