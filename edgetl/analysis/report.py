"""ModelReport: what ``edgetl inspect`` knows about a model file, whatever its format."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LayerStat:
    index: int
    op: str
    name: str
    macs: int
    params: int
    output_shape: tuple[int, ...]
    version: int = 1


@dataclass
class ModelReport:
    path: str
    format: str
    input_shape: tuple[int, ...]
    input_dtype: str
    output_shape: tuple[int, ...]
    layers: list[LayerStat]
    params: int
    weight_bytes_by_dtype: dict[str, int]
    peak_activation_bytes: int | None
    peak_at: str | None
    largest_activations: list[dict[str, Any]] = field(default_factory=list)
    largest_weights: list[dict[str, Any]] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=dict)  # "CONV_2D v3" -> count
    min_runtime_version: str | None = None
    file_bytes: int = 0
    family: str = "depthwise"
    notes: list[str] = field(default_factory=list)
    activation_bytes_by_dtype: dict[str, int] = field(default_factory=dict)  # tensors computed at run time

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weight_bytes(self) -> int:
        return sum(self.weight_bytes_by_dtype.values())

    def to_dict(self, *, layers: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["macs"] = self.macs
        d["weight_bytes"] = self.weight_bytes
        if not layers:
            d.pop("layers")
        return d
