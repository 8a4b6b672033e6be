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


def emit(obj: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=2, default=str))
    elif text is not None:
        click.echo(text)
