"""OpenVINO IR models (``model.xml`` + ``model.bin``) through the OpenVINO runtime on the CPU.

The CPU plugin picks its inference precision by itself: bf16 on a CPU with AVX-512 BF16 or AMX (most current
Xeon and EPYC servers), which would change a float model's answers on one machine and not on another. This
backend pins f32 for everything that is not already quantized, so an IR gives the same answers on every x86
and Arm CPU within float rounding, and its int8 layers (FakeQuantize from the QDQ model) run int8 kernels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import MissingDependencyError, ModelFileError, RuntimeBackendError
from ..limits import MAX_INPUT_ELEMENTS
from ..openvino_file import read_ir, read_weights

_DTYPES = {"f32": np.float32, "u8": np.uint8, "i8": np.int8, "f16": np.float16, "i32": np.int32, "i64": np.int64}
# what every compile gets (the CPU plugin's own default precision and streams depend on the machine)
FIXED_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}


class OpenVinoBackend:
    @classmethod
    def open(cls, path: str | Path, model_bytes: bytes, *, threads: int | None = None, backend: str = "auto",
             providers: list[str] | None = None, provider_options: dict[str, dict[str, Any]] | None = None,
             profile_dir: str | None = None) -> "OpenVinoBackend":
        """The runtime's way in (``edgetl.runtime.classify``). ``providers`` name OpenVINO devices (default CPU)."""
        return cls(path, model_bytes, threads=threads, device=(providers or ["CPU"])[0])

    def __init__(self, path: str | Path, model_bytes: bytes, *, threads: int | None = None,
                 device: str = "CPU", weights: bytes | None = None) -> None:
        """``weights``: the IR's weights when they are not yet on disk (export's probe); else read beside ``path``."""
        try:
            import openvino as ov
        except ImportError as exc:
            raise MissingDependencyError("OpenVINO is not installed. Install it: pip install openvino "
                                         "(or: pip install 'edgetl[openvino]').") from exc
        self.name, self.version = "openvino", ov.__version__.split("-")[0]
        facts = read_ir(model_bytes, str(path))  # before OpenVINO parses anything
        weights = read_weights(path, facts) if weights is None else weights
        core = ov.Core()
        try:
            model = core.read_model(model=model_bytes.decode("utf-8"),
                                    weights=ov.Tensor(np.frombuffer(weights, np.uint8).copy()))
        except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
            raise ModelFileError(f"{path}: OpenVINO {self.version} cannot read this IR: "
                                 f"{' '.join(str(exc).split())[:400]}. Export or copy both files again.") from None
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise RuntimeBackendError(f"{path}: edgetl classifies with models of one input and one output; this "
                                      f"one has {len(model.inputs)} inputs and {len(model.outputs)} outputs.")
        pshape = model.inputs[0].get_partial_shape()
        self.dynamic_batch = pshape.rank.is_static and len(pshape) > 0 and pshape[0].is_dynamic
        if self.dynamic_batch:
            pshape[0] = 1
        if not pshape.is_static:
            raise RuntimeBackendError(f"{path}: the model input has shape {pshape} with unknown sizes beyond the "
                                      "batch; edgetl needs a fixed image or token size.")
        shape = tuple(int(d.get_length()) for d in pshape)
        if len(shape) != 4 and not (len(shape) == 2 and model.inputs[0].get_element_type().is_integral()):
            raise RuntimeBackendError(f"{path}: the model input has shape {list(shape)}; edgetl classifies images "
                                      "with a 4-D input (NHWC or NCHW) and texts with [1, tokens] int32 ids.")
        n = int(np.prod(shape, dtype=np.float64))
        if n > MAX_INPUT_ELEMENTS.value:
            raise ModelFileError(MAX_INPUT_ELEMENTS.exceeded(n, str(path)) + ".")
        model.reshape({model.inputs[0]: ov.PartialShape(list(shape))})
        config: dict[str, Any] = dict(FIXED_CONFIG)
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self._compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise RuntimeBackendError(f"{path}: OpenVINO {self.version} cannot compile the model for {device}: "
                                      f"{' '.join(str(exc).split())[:400]}") from None
        self.providers = [device]
        self.input_shape = shape
        self.input_dtype = np.dtype(_DTYPES.get(model.inputs[0].get_element_type().get_type_name(), np.float32))
        out = self._compiled.outputs[0]
        self.output_dtype = np.dtype(_DTYPES.get(out.get_element_type().get_type_name(), np.float32))
        self.output_shape = tuple(int(d.get_length()) if d.is_static else 1 for d in out.get_partial_shape())
        self.input_quant = None  # QDQ/FakeQuantize models keep float I/O
        self.output_quant = None
        self._request = self._compiled.create_infer_request()
        self._buf = np.zeros(self.input_shape, self.input_dtype)
        self._batch: dict[int, Any] = {}
        self._model, self._core, self._device, self._config = model, core, device, config

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self.input_shape or x.dtype != self.input_dtype:
            raise RuntimeBackendError(f"input must be {self.input_dtype} of shape {list(self.input_shape)}; "
                                      f"received {x.dtype} of shape {list(x.shape)}.")
        return self._infer(self._request, x)

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        """A batch of inputs: one compile per batch size, as fixed-shape as the single-input model."""
        if x.shape[1:] != self.input_shape[1:] or x.dtype != self.input_dtype:
            raise RuntimeBackendError(f"input batch must be {self.input_dtype} of shape [N, "
                                      f"{', '.join(map(str, self.input_shape[1:]))}]; received {x.dtype} {list(x.shape)}.")
        if len(x) == 1 or not self.dynamic_batch:
            return np.concatenate([self._infer(self._request, x[i:i + 1]) for i in range(len(x))])
        req = self._batch.get(len(x))
        if req is None:
            import openvino as ov

            m = self._model.clone()
            m.reshape({m.inputs[0]: ov.PartialShape([len(x), *self.input_shape[1:]])})
            req = self._batch[len(x)] = self._core.compile_model(m, self._device, self._config).create_infer_request()
        return self._infer(req, x)

    def _infer(self, req: Any, x: np.ndarray) -> np.ndarray:
        try:
            # the call is synchronous: the input is read in place; the output is copied out of the reused request
            return np.array(req.infer({0: x}, share_inputs=True)[0], copy=True)
        except RuntimeError as exc:
            raise RuntimeBackendError(f"OpenVINO failed to run the model: {str(exc).strip()[:300]}") from exc

    def run_into(self, fill: Callable[[np.ndarray], None]) -> np.ndarray:
        fill(self._buf)
        return self._infer(self._request, self._buf)
