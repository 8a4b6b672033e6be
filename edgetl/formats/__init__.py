"""One exporter module per format (named in ``edgetl.targets.FORMATS``), each with the functions of
:class:`Exporter`; :func:`exporter` gives a target's module, checked against that protocol."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Protocol, runtime_checkable

from ..config import ExportConfig
from ..targets import Target


@runtime_checkable
class Exporter(Protocol):
    """What the export stage asks of a format. ``inputs`` is the run's ``ExportInputs``."""

    def convert(self, inputs: Any, target: Target, cfg: ExportConfig) -> tuple[bytes, list[str]]:
        """The artifact's bytes and its op types."""

    def embed(self, data: bytes, contract: dict[str, Any]) -> bytes:
        """The bytes with the contract embedded in the file's own metadata."""

    def write(self, path: Path, data: bytes) -> None:
        """Write the artifact at ``path`` (and its format's companion files beside it), each atomically."""

    def probe(self, path: Path, data: bytes) -> Any:
        """A runtime backend on the bytes (input and output shapes, dtypes, quantization)."""

    def ops(self, data: bytes) -> list[str]:
        """The op types of an artifact (after selective quantization replaced its bytes)."""


@runtime_checkable
class CalibratedExporter(Exporter, Protocol):
    """What a format with calibrated (int8) targets adds for the range audit and selective quantization."""

    def sensitivity(self, inputs: Any, target: Target, cfg: ExportConfig, pixels: Any) -> list[dict[str, Any]]:
        """Per-layer error rows, worst first (``layer`` key)."""

    def with_float_layers(self, inputs: Any, target: Target, cfg: ExportConfig, layers: list[str],
                          pixels: Any) -> bytes:
        """The int8 bytes with those layers in float."""

    def range_audit(self, inputs: Any, data: bytes, calib: Any, held: Any, total: int) -> dict[str, Any]:
        """Clip shares of the calibrated ranges on held-back inputs."""

    def calibration_variants(self, inputs: Any, target: Target, cfg: ExportConfig) -> Iterator[tuple[str, bytes]]:
        """(name, bytes) of calibrations that cost no speed."""

    def float_bytes(self, inputs: Any, cfg: ExportConfig) -> bytes:
        """The float model, for the latency limit."""

    def rounds_weights(self, inputs: Any, cfg: ExportConfig) -> bool:
        """Whether its int8 weights get activation-aware rounding."""


def exporter(target: Target) -> ModuleType:
    """The exporter module of ``target``'s format; TypeError when it lacks a function its targets need."""
    mod = importlib.import_module(target.format.exporter)
    need = CalibratedExporter if target.calibrated else Exporter
    if not isinstance(mod, need):
        raise TypeError(f"{target.format.exporter} does not have every function of {need.__name__}")
    return mod
