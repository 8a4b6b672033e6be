"""A whole run from one YAML file."""
from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import _coerce, _suggest, apply_overrides
from .bench import BenchConfig
from .export import ExportConfig
from .train import TrainConfig

PIPELINE_SECTIONS = ("run_dir", "smoke", "train", "export", "bench")
_PATH_KEYS = ("data", "val_data", "weights_dir", "cache_dir")


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """A whole run from one YAML file: train, export and (optionally) bench.

    Attributes:
        run_dir: The run folder (relative paths in a file are relative to that file).
        train: The train section.
        export: The export section (defaults when absent).
        bench: The bench section (no benchmark step when absent).
        smoke: A first try (examples/quick.yaml): every output says its numbers are a smoke run, not results.
    """

    run_dir: str = "runs/pipeline"
    smoke: bool = False
    train: TrainConfig
    export: ExportConfig = field(default_factory=ExportConfig)
    bench: BenchConfig | None = None

    @classmethod
    def from_dict(cls, raw: typing.Mapping[str, Any] | None, *, base: str | Path | None = None,
                  overrides: typing.Iterable[str] = (), source: str = "pipeline config") -> "PipelineConfig":
        """Build from a YAML document: paths in it relative to ``base``; ``--set`` overrides relative to the cwd."""
        raw = dict(raw or {})
        unknown = [str(k) for k in raw if k not in PIPELINE_SECTIONS]
        if unknown:
            raise ConfigError(f"{source}: unknown section {unknown[0]!r}.{_suggest(unknown[0], PIPELINE_SECTIONS)} "
                              f"Known: {', '.join(PIPELINE_SECTIONS)}.")
        for sec in ("train", "export", "bench"):
            if raw.get(sec) is not None and not isinstance(raw[sec], dict):
                raise ConfigError(f"{source}: section {sec!r} must be a mapping of options; found "
                                  f"{type(raw[sec]).__name__}.")
        if "train" not in raw or raw["train"] is None:
            raise ConfigError(f"{source}: the 'train' section is missing or empty; it needs at least 'data:' (a "
                              "folder of class sub-folders).")
        base_dir = Path(base) if base is not None else Path.cwd()
        data = json.loads(json.dumps(raw))
        for key in _PATH_KEYS:
            if key in data["train"]:
                data["train"][key] = _relative_to(base_dir, data["train"][key])
        if "run_dir" in data:
            data["run_dir"] = _relative_to(base_dir, data["run_dir"])
        before = json.loads(json.dumps(data))
        data = apply_overrides(data, overrides)
        for key in _PATH_KEYS:  # paths given with --set are relative to the current folder
            v = data["train"].get(key)
            if isinstance(v, str) and v != before["train"].get(key) and not v.startswith("download:"):
                data["train"][key] = str(Path(v).expanduser().resolve())
        bench = data.get("bench")
        return cls(run_dir=str(data.get("run_dir") or "runs/pipeline"), train=TrainConfig.from_dict(data["train"]),
                   smoke=_coerce(data.get("smoke", False), bool, "smoke"),
                   export=ExportConfig.from_dict(data.get("export") or {}),
                   bench=BenchConfig.from_dict(bench) if bench is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, **({"smoke": True} if self.smoke else {}), "train": self.train.to_dict(),
                "export": self.export.to_dict(),
                **({"bench": self.bench.to_dict()} if self.bench else {})}


def _relative_to(base: Path, value: Any) -> Any:
    if not isinstance(value, str) or value.startswith("download:") or Path(value).expanduser().is_absolute():
        return value
    return str((base / value).resolve())
