"""Shared CLI helpers: config files with --set overrides, and printing results as text or JSON."""
from __future__ import annotations

import json
from typing import Any

import click

from ..config import apply_overrides, load_yaml


def resolve_config(config_file: str | None, sets: tuple[str, ...], cli_values: dict[str, Any],
                   section: str | None = None) -> dict[str, Any]:
    """Merge a YAML file (optionally one section of it), explicit CLI options, then --set overrides."""
    data: dict[str, Any] = load_yaml(config_file) if config_file else {}
    if section and section in data and isinstance(data[section], dict):
        data = dict(data[section])
    data.update({k: v for k, v in cli_values.items() if v is not None and v != ()})
    return apply_overrides(data, sets)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as null: ``--json`` output is always valid JSON (RFC 8259 has no NaN)."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "dtype") and hasattr(obj, "tolist"):  # numpy scalars and arrays
        return json_safe(obj.tolist())
    return obj


def emit(obj: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(json_safe(obj), indent=2, default=str, allow_nan=False))
    elif text is not None:
        click.echo(text)
