"""TFLite models through ai-edge-litert, falling back to tflite-runtime for old devices; Edge TPU delegate."""
from __future__ import annotations

import ctypes.util
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import MissingDependencyError, ModelFileError, RuntimeBackendError
from ..limits import MAX_ACTIVATION_BYTES, MAX_INPUT_ELEMENTS
from ..bert_inputs import companions, roles
from ..quiet import native_stderr_quiet
from ..tflite_file import Graph, read_graph

EDGETPU_CUSTOM_OP = "edgetpu-custom-op"
_LIBEDGETPU = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}


def _interpreter_module(prefer: str) -> tuple[Any, str, str]:
    order = ["ai_edge_litert", "tflite_runtime"] if prefer in ("auto", "litert") else ["tflite_runtime"]
    for name in order:
        try:
            if name == "ai_edge_litert":
                from ai_edge_litert import interpreter as mod
                from importlib.metadata import version

                return mod, "litert", version("ai-edge-litert")
            from tflite_runtime import interpreter as mod  # type: ignore[no-redef]
            import tflite_runtime

            return mod, "tflite-runtime", getattr(tflite_runtime, "__version__", "?")
        except ImportError:
            continue
        except Exception as exc:  # tflite-runtime 2.14 fails to import under numpy 2
            if name == order[-1]:
                raise RuntimeBackendError(f"{name} is installed but cannot be imported ({exc}). "
                                          "Install ai-edge-litert: pip install ai-edge-litert") from exc
    raise MissingDependencyError("No TFLite interpreter is installed. Install one: pip install ai-edge-litert "
                                 "(or: pip install 'edgetl[runtime]'); tflite-runtime works for old devices.")


def explain_op_error(exc: BaseException, path: str, runtime: str, version: str) -> RuntimeBackendError:
    msg = str(exc)
    m = re.search(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'", msg)
    if m:
        op, ver = m.group(1), m.group(2)
        return RuntimeBackendError(
            f"{path}: the installed {runtime} {version} has no {op} version {ver}, which this model needs. "
            f"The model comes from a newer converter than the runtime. Fix: pip install -U ai-edge-litert "
            f"(any 2.x runs TF 2.21 models); if the device must keep {runtime} {version}, export with a TensorFlow "
            f"release of the same age as that runtime. 'edgetl inspect' lists the op versions.")
    if "custom op" in msg.lower() or "Encountered unresolved custom op" in msg:
        return RuntimeBackendError(f"{path}: the model uses a custom op this runtime lacks ({msg.strip()[:300]}). "
                                   "Edge TPU models need libedgetpu and the Edge TPU delegate; Flex ops need the "
                                   "TensorFlow Select ops library.")
    return RuntimeBackendError(f"{path}: {runtime} {version} cannot load the model: {msg.strip()[:500]}")


class LiteRTBackend:
    """One interpreter; not thread-safe on its own (the Classifier pools them)."""

    @classmethod
    def open(cls, path: str | Path, model_bytes: bytes, *, threads: int | None = None, backend: str = "auto",
             **_: Any) -> "LiteRTBackend":
        """The runtime's way in (``edgetl.runtime.classify``): providers and profiling are ONNX Runtime's."""
        return cls(path, model_bytes, threads=threads, prefer=backend)

    def __init__(self, path: str | Path, model_bytes: bytes, *, threads: int | None = None,
                 prefer: str = "auto") -> None:
        mod, self.name, self.version = _interpreter_module(prefer)
        # Check the flatbuffer's structure (offsets, vector and buffer bounds, tensor and opcode indices) before
        # the native interpreter reads it: a malformed file gets an error here, not a crash there.
        graph = read_graph(model_bytes, str(path))
        check_sizes(graph, str(path))
        delegates = []
        if any(op.opcode.custom_code == EDGETPU_CUSTOM_OP for op in graph.operators):
            delegates.append(_edgetpu_delegate(mod, str(path)))
            self.name += "+edgetpu"
        try:
            with native_stderr_quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate" unless -v
                self._it = mod.Interpreter(model_content=model_bytes, num_threads=threads,
                                           experimental_delegates=delegates or None)
                self._it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise explain_op_error(exc, str(path), self.name, self.version) from exc
        inp = self._it.get_input_details()
        out = self._it.get_output_details()
        bert = roles(inp)  # a text model in the BERT form: ids, mask, segment_ids (the mask from the ids)
        self._companions = [(d["index"], r) for d, r in zip(inp, bert or []) if r != "ids"]
        if bert:
            inp = [inp[bert.index("ids")]]
        if len(inp) != 1 or len(out) != 1:
            raise RuntimeBackendError(f"{path}: edgetl classifies with models of one input and one output; this "
                                      f"one has {len(inp)} inputs and {len(out)} outputs.")
        self._in, self._out = inp[0]["index"], out[0]["index"]
        self.input_shape = tuple(int(x) for x in inp[0]["shape"])
        self.input_dtype = np.dtype(inp[0]["dtype"])
        if len(self.input_shape) != 4 and not (len(self.input_shape) == 2 and self.input_dtype.kind == "i"
                                               and self.input_dtype.itemsize >= 4):
            raise RuntimeBackendError(f"{path}: the model input has shape {list(self.input_shape)}; edgetl classifies "
                                      "images with a 4-D input (NHWC or NCHW) and texts with [1, tokens] int32 ids.")
        self.output_dtype = np.dtype(out[0]["dtype"])
        self.output_shape = tuple(int(x) for x in out[0]["shape"])
        self.input_quant = _quant(inp[0])
        self.output_quant = _quant(out[0])

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self.input_shape or x.dtype != self.input_dtype:
            raise RuntimeBackendError(f"input must be {self.input_dtype} of shape {list(self.input_shape)}; "
                                      f"received {x.dtype} of shape {list(x.shape)}.")
        self._it.set_tensor(self._in, x)
        self._set_companions(x)
        self._invoke()
        return self._it.get_tensor(self._out)

    def _set_companions(self, ids: np.ndarray) -> None:
        if self._companions:
            extra = companions(ids)
            for index, role in self._companions:
                self._it.set_tensor(index, extra[role])

    def _invoke(self) -> None:
        try:
            self._it.invoke()
        except (RuntimeError, ValueError) as exc:
            raise RuntimeBackendError(f"{self.name} {self.version} failed to run the model: {str(exc).strip()[:300]}. "
                                      "The file may be corrupted: export or copy it again.") from exc

    def run_into(self, fill: Callable[[np.ndarray], None]) -> np.ndarray:
        view = self._it.tensor(self._in)()  # a view into the interpreter's input buffer: no extra copy
        fill(view)
        if self._companions:
            self._set_companions(np.array(view))
        del view  # no reference may live across invoke()
        self._invoke()
        return self._it.get_tensor(self._out)


def check_sizes(graph: Graph, path: str) -> None:
    """Refuse a model whose declared tensors would take more memory than the limits, before allocating them."""
    for i in graph.inputs:
        n = graph.tensors[i].elements
        if n > MAX_INPUT_ELEMENTS.value:
            raise ModelFileError(MAX_INPUT_ELEMENTS.exceeded(n, path) + ".")
    total = sum(t.nbytes for t in graph.tensors if not t.constant)
    if total > MAX_ACTIVATION_BYTES.value:
        raise ModelFileError(MAX_ACTIVATION_BYTES.exceeded(total, path) + ".")


def _quant(detail: dict) -> tuple[float, int] | None:
    scale, zp = detail.get("quantization", (0.0, 0))
    if np.dtype(detail["dtype"]).kind in "iu" and scale:
        return float(scale), int(zp)
    return None


def _edgetpu_delegate(mod: Any, path: str) -> Any:
    import platform

    lib = _LIBEDGETPU.get(platform.system(), "libedgetpu.so.1")
    if ctypes.util.find_library("edgetpu") is None and not Path(f"/usr/lib/{lib}").exists():
        raise RuntimeBackendError(f"{path} is compiled for the Edge TPU, but {lib} is not installed. Install the "
                                  "Edge TPU runtime (Coral's libedgetpu1-std package) and plug in the device, or "
                                  "run the model from before edgetpu_compiler on the CPU.")
    try:
        return mod.load_delegate(lib)
    except (ValueError, OSError) as exc:
        raise RuntimeBackendError(f"{path}: the Edge TPU delegate failed to load ({exc}). Is the Coral device "
                                  "connected, and is no other process using it?") from exc
