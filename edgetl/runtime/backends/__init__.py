"""Inference backends behind one small interface: LiteRT (or tflite-runtime), ONNX Runtime and OpenVINO."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Runtime:
    """One runtime the device side embeds: the files it runs and the backend class that runs them.

    Attributes:
        name: What ``edgetl.targets.Format.runtime`` and device profiles call it (``litert``, ``onnxruntime``).
        suffix: The file suffix it runs.
        backend: ``module:Class``, imported on first use; the class has ``open(path, data, threads=, backend=,
            providers=, provider_options=, profile_dir=)``.
        choices: The ``Classifier.load(backend=...)`` names that run these files (``auto`` picks the first
            installed).
        contract: ``module:function`` that reads edgetl's contract embedded in such a file (bytes, or None).
    """

    name: str
    suffix: str
    backend: str
    choices: tuple[str, ...]
    contract: str


# the runtime's one suffix table: a new format's runtime is one entry here and one backend module beside it
RUNTIMES: dict[str, Runtime] = {r.name: r for r in (
    Runtime("litert", ".tflite", "edgetl.runtime.backends.litert:LiteRTBackend", ("litert", "tflite-runtime"),
            "edgetl.runtime.tflite_file:contract_bytes"),
    Runtime("onnxruntime", ".onnx", "edgetl.runtime.backends.onnx:OnnxBackend", ("onnxruntime",),
            "edgetl.runtime.contract:onnx_contract"),
    Runtime("openvino", ".xml", "edgetl.runtime.backends.openvino:OpenVinoBackend", ("openvino",),
            "edgetl.runtime.openvino_file:contract_bytes"),
)}


def runtime_for(path: str) -> Runtime | None:
    """The runtime whose files end like ``path`` (case-insensitive), or None."""
    return next((r for r in RUNTIMES.values() if str(path).lower().endswith(r.suffix)), None)


class Backend(Protocol):
    name: str
    version: str
    input_shape: tuple[int, ...]
    input_dtype: np.dtype
    input_quant: tuple[float, int] | None  # (scale, zero_point) of an integer input
    output_quant: tuple[float, int] | None

    def run(self, x: np.ndarray) -> np.ndarray: ...

    def run_into(self, fill) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Let ``fill(view)`` write the input in place, run, and return a copy of the output."""
        ...
