"""The per-layer sensitivity table of a TFLite int8 model: LiteRT's quantization debugger (the root-mean-square
error of each tensor, over its quantization step), worst first."""
from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from ...progress import track


def tflite_sensitivity(converter: Any, debug_pixels: np.ndarray) -> list[dict[str, Any]]:
    """Per-tensor error of the int8 model vs float, from TensorFlow's QuantizationDebugger, worst first."""
    import tensorflow as tf

    from ...runtime.quiet import native_stderr_quiet

    def gen():  # type: ignore[no-untyped-def]
        for x in track(debug_pixels, "sensitivity"):
            yield [x[None].astype(np.float32)]

    import warnings

    with native_stderr_quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the debugger's own tf.lite.Interpreter deprecation notice
        dbg = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=gen)
        dbg.run()
    buf = io.StringIO()
    dbg.layer_statistics_dump(buf)
    rows = []
    for r in csv.DictReader(io.StringIO(buf.getvalue())):
        try:
            scale = float(r.get("scale") or 0.0)
            mse = float(r.get("mean_squared_error") or 0.0)
        except ValueError:
            continue
        rows.append({"layer": r.get("tensor_name", ""), "op": r.get("op_name", ""),
                     "rmse_over_scale": round(float(np.sqrt(mse)) / scale, 4) if scale > 0 else 0.0,
                     "max_abs_error": float(r.get("max_abs_error") or 0.0), "scale": scale})
    rows.sort(key=lambda r: -r["rmse_over_scale"])
    return rows
