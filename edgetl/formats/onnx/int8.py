"""ONNX int8 with ONNX Runtime: static QDQ calibrated on training images, or dynamic."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConversionError

log = logging.getLogger(__name__)

CALIBRATION_CHUNK = 16  # images whose intermediate tensors ONNX Runtime's calibrator holds at once
ACTIVATIONS = {"Relu", "Clip"}  # what ONNX Runtime's QDQ quantizer folds into the node before it


def float_nodes(graph: Any, tensors: list[str] | set[str]) -> list[str]:
    """The names of the nodes that stay float when ``tensors`` do: each tensor's producer, with the activation
    it is fused with. ONNX Runtime drops a Relu or Clip that follows a node whose only consumer it is, and
    quantizes that node's output with the activation's range; keeping only one of the two float quantizes the
    pre-activation tensor on its own, over a range twice as wide or more, and the artifact moves away from the
    float model as float layers are added (``closer_z`` of the onnx rows in
    benchmarks/results/selective_stage9-10.json, before export stage 12)."""
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    wanted = [producer[t] for t in tensors if t in producer]
    out: dict[str, Any] = {}
    for n in wanted:
        out[n.name] = n
        if n.op_type in ACTIVATIONS and n.input and n.input[0] in producer \
                and len(consumers.get(n.input[0], [])) == 1:
            out[producer[n.input[0]].name] = producer[n.input[0]]
        nxt = consumers.get(n.output[0], []) if n.output else []
        if len(nxt) == 1 and nxt[0].op_type in ACTIVATIONS:
            out[nxt[0].name] = nxt[0]
    return [name for name in out if name]


def _chunk(n: int) -> int:
    """The largest chunk of at most CALIBRATION_CHUNK images that divides ``n`` (ONNX Runtime requires it)."""
    return max(c for c in range(1, min(n, CALIBRATION_CHUNK) + 1) if n % c == 0)


def quantize_onnx(proto: Any, *, mode: str, pixels: np.ndarray | None, per_channel: bool,
                  tensors_in_float: list[str] | None = None, calibrate_method: str = "minmax",
                  round_weights: bool | str = False, summary: dict[str, Any] | None = None) -> Any:
    """Return an int8 ``onnx.ModelProto`` from a float one.

    Args:
        tensors_in_float: Tensors whose producing nodes stay float (selective quantization), each with the
            activation fused to it (``float_nodes``); tensor names survive ONNX Runtime's pre-processing where
            node names may not.
        calibrate_method: minmax, entropy or percentile (static mode).
        round_weights: re-round the int8 weights against their calibration inputs (static mode;
            ``edgetl/quantize/rounding.py``): the same graph and speed, less error.
        summary: gets what the weight rounding chose (the candidate and its held-back output errors).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    with tempfile.TemporaryDirectory(prefix="edgetl-onnx-") as tmp:
        src, pre, dst = Path(tmp, "f.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "q.onnx")
        onnx.save(proto, src)
        pre = _pre_process(src, pre, tmp)
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
                exclude = float_nodes(pre_model.graph, tensors_in_float or [])
                import contextlib
                import io

                with contextlib.redirect_stdout(io.StringIO()):  # the calibrators print progress to stdout
                    quantize_static(str(pre), str(dst), _reader(pixels, name), quant_format=QuantFormat.QDQ,
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

            forced = round_weights if isinstance(round_weights, str) else None  # a mode name: tests force one
            out, info = onnx_round_weights(out, onnx.load(str(pre)), pixels, mode=forced)
            if summary is not None:
                summary.update(info)
        if mode == "static" and tensors_in_float:
            keep_float(out, exclude)
        return out


def _pre_process(src: Path, pre: Path, tmp: str) -> Path:
    """ONNX Runtime's quantization pre-processing (shape inference, folding) into ``pre``; the plain model when it
    fails (it is an optimization)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    cwd = os.getcwd()
    try:
        os.chdir(tmp)  # its fallback paths write scratch files into the current folder; keep them in ours
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
        return pre
    except Exception as exc:  # noqa: BLE001
        log.warning("ONNX Runtime's quantization pre-processing failed (%s: %s); quantizing the model without it",
                    type(exc).__name__, str(exc)[:200])
        return src
    finally:
        os.chdir(cwd)


def _reader(data: np.ndarray, name: str) -> Any:
    """A calibration data reader over ``data`` for ONNX Runtime's calibrators."""
    from onnxruntime.quantization import CalibrationDataReader

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

    return Reader(data, name)


def keep_float(model: Any, names: list[str]) -> None:
    """Keep the float Conv/ConvTranspose/Gemm nodes ``names`` float when ONNX Runtime loads the model.

    ONNX Runtime's ``WeightBiasQuantization`` graph transformer (optimization level basic, on by default)
    quantizes the float weights of such a node when its input comes from a per-tensor DequantizeLinear and its
    output leads to a QuantizeLinear, per tensor and by plain rounding: a layer the search kept float ran as a
    worse int8 layer than the one it replaced (``tests/unit/test_onnx_float_layers.py`` shows the rewrite).
    Each such node gets its own DequantizeLinear with per-axis scale and zero point, the same value repeated per
    input channel: the same numbers, and not the pattern the transformer rewrites.
    """
    import onnx
    from onnx import numpy_helper

    producer = {o: n for n in model.graph.node for o in n.output}
    protos = {i.name: i for i in model.graph.initializer}
    wanted = set(names)

    def array(name: str) -> np.ndarray | None:  # only the few initializers read here, not every weight
        return numpy_helper.to_array(protos[name]) if name in protos else None

    before: dict[str, Any] = {}  # node name -> the DequantizeLinear that goes just before it
    for node in model.graph.node:
        if node.name not in wanted or node.op_type not in ("Conv", "ConvTranspose", "Gemm") or len(node.input) < 2:
            continue
        dq = producer.get(node.input[0])
        if dq is None or dq.op_type != "DequantizeLinear" or node.input[1] not in protos or len(dq.input) < 2:
            continue
        scale = array(dq.input[1])
        if scale is None or scale.size != 1:  # per-axis already: not the transformer's pattern
            continue
        w = protos[node.input[1]].dims
        attrs = {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT}
        axis = 0 if node.op_type == "Gemm" and attrs.get("transA") else 1
        channels = {"Conv": w[1] * attrs.get("group", 1), "ConvTranspose": w[0],
                    "Gemm": w[1] if attrs.get("transB") else w[0]}[node.op_type]
        zp = array(dq.input[2]) if len(dq.input) > 2 else None
        scale, zp = scale.reshape(-1), (np.zeros(1, np.int8) if zp is None else zp.reshape(-1))
        base = f"{node.name}_float_input"
        model.graph.initializer.extend([numpy_helper.from_array(np.repeat(scale, channels), f"{base}_scale"),
                                        numpy_helper.from_array(np.repeat(zp, channels), f"{base}_zero_point")])
        before[node.name] = onnx.helper.make_node("DequantizeLinear", [dq.input[0], f"{base}_scale",
                                                                      f"{base}_zero_point"],
                                                  [base], name=f"{base}_DequantizeLinear", axis=axis)
        node.input[0] = base
    if before:  # each new DequantizeLinear just before its node: the node list stays topologically sorted
        nodes = [m for n in model.graph.node for m in ((before[n.name], n) if n.name in before else (n,))]
        del model.graph.node[:]
        model.graph.node.extend(nodes)
