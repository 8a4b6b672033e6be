"""Readable text for configurations: one ``section.key: value`` line each, instead of a Python dict."""
from __future__ import annotations

from typing import Any


def config_line(d: dict[str, Any], command: str = "pipeline") -> str:
    """The options a person checks first, on one line; every option with -v."""
    t, e, b = d.get("train") or {}, d.get("export") or {}, d.get("bench") or {}

    def show(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    parts = [f"{k}={show(v)}" for k, v in (("backbone", t.get("backbone")), ("data", t.get("data")),
                                           ("strategy", t.get("strategy")), ("targets", e.get("targets")),
                                           ("devices", b.get("devices"))) if v not in (None, "", [], ())]
    return "  " + " ".join(parts) + f" (every option: edgetl -v {command} ...)"


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
