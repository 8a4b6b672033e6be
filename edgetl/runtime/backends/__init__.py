"""Inference backends behind one small interface: LiteRT (or tflite-runtime) and ONNX Runtime."""
from __future__ import annotations

from typing import Protocol

import numpy as np


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
