"""Readable text for configurations: one ``section.key: value`` line each, instead of a Python dict."""
from __future__ import annotations

from typing import Any


def config_text(d: dict[str, Any], prefix: str = "") -> str:
    lines: list[str] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            lines.append(config_text(v, f"{key}."))
        else:
            shown = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else ("-" if v is None else v)
            lines.append(f"  {key}: {shown}")
    return "\n".join(x for x in lines if x)
