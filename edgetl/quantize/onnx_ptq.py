"""ONNX int8 with ONNX Runtime: static QDQ calibrated on training images, or dynamic."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConversionError

log = logging.getLogger(__name__)

CALIBRATION_CHUNK = 16  # images whose intermediate tensors ONNX Runtime's calibrator holds at once


def _chunk(n: int) -> int:
    """The largest chunk of at most CALIBRATION_CHUNK images that divides ``n`` (ONNX Runtime requires it)."""
    return max(c for c in range(1, min(n, CALIBRATION_CHUNK) + 1) if n % c == 0)


def quantize_onnx(proto: Any, *, mode: str, pixels: np.ndarray | None, per_channel: bool,
                  tensors_in_float: list[str] | None = None, calibrate_method: str = "minmax",
                  round_weights: bool = False) -> Any:
    """Return an int8 ``onnx.ModelProto`` from a float one.

    Args:
        tensors_in_float: Tensors whose producing nodes stay float (selective quantization); tensor names
            survive ONNX Runtime's pre-processing where node names may not.
        calibrate_method: minmax, entropy or percentile (static mode).
        round_weights: re-round the int8 weights against their calibration inputs (static mode;
            ``edgetl/quantize/rounding.py``): the same graph and speed, less error.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        """The calibration images, in chunks (``set_range``): ONNX Runtime's calibrators keep every intermediate
        tensor of what they are given before they reduce it (benchmarks/onnx_calibration_memory.py)."""

        def __init__(self, data: np.ndarray, name: str) -> None:
            self._data, self._name = data, name
            self._it = iter(data)

        def __len__(self) -> int:
            return len(self._data)

        def set_range(self, start_index: int, end_index: int) -> None:
            self._it = iter(self._data[start_index:end_index])

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {self._name: x[None] if x.dtype.kind == "i" else x[None].astype(np.float32)}

    with tempfile.TemporaryDirectory(prefix="edgetl-onnx-") as tmp:
        src, pre, dst = Path(tmp, "f.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "q.onnx")
        onnx.save(proto, src)
        cwd = os.getcwd()
        try:
            os.chdir(tmp)  # its fallback paths write scratch files into the current folder; keep them in ours
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
        except Exception as exc:  # pre-processing is an optimization; quantize the plain model if it fails
            log.warning("ONNX Runtime's quantization pre-processing failed (%s: %s); quantizing the model without it",
                        type(exc).__name__, str(exc)[:200])
            pre = src
        finally:
            os.chdir(cwd)
        try:
            if mode == "dynamic":
                quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel)
            else:
                if pixels is None or not len(pixels):
                    raise ConversionError("ONNX static int8 needs calibration images.")
                name = proto.graph.input[0].name
                method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                          "percentile": CalibrationMethod.Percentile}[calibrate_method]
                pre_model = onnx.load(str(pre))
                wanted = set(tensors_in_float or [])
                exclude = [n.name for n in pre_model.graph.node if n.name and wanted & set(n.output)]
                import contextlib
                import io

                with contextlib.redirect_stdout(io.StringIO()):  # the calibrators print progress to stdout
                    quantize_static(str(pre), str(dst), Reader(pixels, name), quant_format=QuantFormat.QDQ,
                                    per_channel=per_channel, activation_type=QuantType.QInt8,
                                    weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                                    calibrate_method=method,
                                    extra_options={"CalibStridedMinMax": _chunk(len(pixels))})
        except ConversionError:
            raise
        except Exception as exc:
            raise ConversionError(f"ONNX Runtime {mode} int8 quantization failed: {exc}",
                                  details=str(exc)[-2000:]) from exc
        out = onnx.load(str(dst))
        if round_weights and mode == "static":
            from .rounding import onnx_round_weights

            out, _ = onnx_round_weights(out, onnx.load(str(pre)), pixels)
        return out
