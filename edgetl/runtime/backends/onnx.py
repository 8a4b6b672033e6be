"""ONNX models through ONNX Runtime (CPU, or CUDA/TensorRT when the profile asks and they are present)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import (MissingDependencyError, ModelFileError, ProviderFellBackError, ProviderUnavailableError,
                       RuntimeBackendError)
from ..limits import MAX_INPUT_ELEMENTS
from ..onnx_file import check_external_data, read_onnx

_DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
           "tensor(float16)": np.float16, "tensor(int32)": np.int32, "tensor(int64)": np.int64}


def _session_options(ort: Any, threads: int | None, profile_dir: str | None) -> Any:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if profile_dir:
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(profile_dir) / "ort")
    return so


class OnnxBackend:
    @classmethod
    def open(cls, path: str | Path, model_bytes: bytes, *, threads: int | None = None, backend: str = "auto",
             providers: list[str] | None = None, provider_options: dict[str, dict[str, Any]] | None = None,
             profile_dir: str | None = None) -> "OnnxBackend":
        """The runtime's way in (``edgetl.runtime.classify``)."""
        return cls(path, model_bytes, threads=threads, providers=providers, provider_options=provider_options,
                   profile_dir=profile_dir)

    def __init__(self, path: str | Path, model_bytes: bytes, *, threads: int | None = None,
                 providers: list[str] | None = None, provider_options: dict[str, dict[str, Any]] | None = None,
                 profile_dir: str | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("ONNX Runtime is not installed. Install it: pip install onnxruntime "
                                         "(or: pip install 'edgetl[runtime]').") from exc
        self.name, self.version = "onnxruntime", ort.__version__
        # Before ONNX Runtime sees the file: external data only from plain files in the model's own folder,
        # and then loaded from the path (bytes would make ONNX Runtime resolve it against the current folder).
        facts = read_onnx(model_bytes, str(path))
        external = check_external_data(facts, path)
        source: Any = str(Path(path).resolve()) if external else model_bytes
        so = _session_options(ort, threads, profile_dir)
        wanted = self._providers(ort, providers)
        opts = provider_options or {}
        try:
            self._s = ort.InferenceSession(source, so, providers=[(p, {k: str(v) for k, v in opts.get(p, {}).items()})
                                                                  for p in wanted])
        except Exception as exc:
            raise RuntimeBackendError(f"{path}: ONNX Runtime {self.version} cannot load the model: "
                                      f"{str(exc).strip()[:500]}") from exc
        self.providers = self._s.get_providers()
        fell_back = [p for p in wanted if p not in self.providers]
        if fell_back:  # ONNX Runtime drops a provider whose libraries fail to load, and goes on without it
            raise ProviderFellBackError(
                f"{path}: asked for {', '.join(wanted)} but ONNX Runtime {self.version} set up only "
                f"{', '.join(self.providers)} ({', '.join(fell_back)} failed to load: check its CUDA/TensorRT "
                "libraries). Not measured, so a CPU result is never shown as an accelerator's.")
        self._io_facts(path)

    def _providers(self, ort: Any, providers: list[str] | None) -> list[str]:
        """The providers asked for, each present here, with the CPU one after them for what they do not take."""
        if any(p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") for p in providers or ()):
            preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu >= 1.21 finds pip's nvidia-* libraries
            if preload is not None:
                try:
                    preload()
                except Exception:  # the provider check below reports what is missing
                    pass
        available = ort.get_available_providers()
        wanted = list(providers or ["CPUExecutionProvider"])
        missing = [p for p in wanted if p not in available]
        if missing:
            raise ProviderUnavailableError(f"ONNX Runtime {self.version} here has no {', '.join(missing)} (available: "
                                      f"{', '.join(available)}). Install onnxruntime-gpu with a matching CUDA, or "
                                      "use a CPU profile.")
        if "CPUExecutionProvider" not in wanted:
            wanted.append("CPUExecutionProvider")  # for the ops an accelerator provider does not take
        return wanted

    def _io_facts(self, path: str | Path) -> None:
        """The one input's and one output's shapes and dtypes, checked against what edgetl classifies with."""
        ins, outs = self._s.get_inputs(), self._s.get_outputs()
        if len(ins) != 1 or len(outs) != 1:
            raise RuntimeBackendError(f"{path}: edgetl classifies with models of one input and one output; this "
                                      f"one has {len(ins)} inputs and {len(outs)} outputs.")
        self._in_name, self._out_name = ins[0].name, outs[0].name
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in (ins[0].shape or [])]
        if len(shape) != 4 and not (len(shape) == 2 and ins[0].type in ("tensor(int32)", "tensor(int64)")):
            raise RuntimeBackendError(f"{path}: the model input has shape {ins[0].shape}; edgetl classifies images "
                                      "with a 4-D input (NHWC or NCHW) and texts with [1, tokens] int32 ids.")
        self.input_shape = tuple(shape)
        first = (ins[0].shape or [1])[0]
        self.dynamic_batch = not (isinstance(first, int) and first > 0)
        n = int(np.prod(shape, dtype=np.float64))
        if n > MAX_INPUT_ELEMENTS.value:
            raise ModelFileError(MAX_INPUT_ELEMENTS.exceeded(n, str(path)) + ".")
        self.input_dtype = np.dtype(_DTYPES.get(ins[0].type, np.float32))
        self.output_dtype = np.dtype(_DTYPES.get(outs[0].type, np.float32))
        self.output_shape = tuple(d if isinstance(d, int) and d > 0 else 1 for d in (outs[0].shape or []))
        self.input_quant = None  # QDQ models keep float I/O
        self.output_quant = None
        self._buf = np.zeros(self.input_shape, self.input_dtype)

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self.input_shape or x.dtype != self.input_dtype:
            raise RuntimeBackendError(f"input must be {self.input_dtype} of shape {list(self.input_shape)}; "
                                      f"received {x.dtype} of shape {list(x.shape)}.")
        return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._s.run([self._out_name], {self._in_name: x})[0]
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidArgument/RuntimeException types
            raise RuntimeBackendError(f"ONNX Runtime failed to run the model: {str(exc).strip()[:300]}") from exc

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1:] != self.input_shape[1:] or x.dtype != self.input_dtype:
            raise RuntimeBackendError(f"input batch must be {self.input_dtype} of shape [N, "
                                      f"{', '.join(map(str, self.input_shape[1:]))}]; received {x.dtype} {list(x.shape)}.")
        return self._run(x)

    def end_profiling(self) -> str | None:
        return self._s.end_profiling() or None

    def run_into(self, fill: Callable[[np.ndarray], None]) -> np.ndarray:
        fill(self._buf)
        return self._run(self._buf)
