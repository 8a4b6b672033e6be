"""Reading YAML that someone else wrote (configs, device profiles): bounded size, no aliases, no tags.

A 600-byte "billion laughs" document of nested aliases expands to gigabytes in ``yaml.safe_load``;
edgetl's loader refuses aliases and anchors outright (configs never need them), bounds the file's size
and nesting, and turns every parser failure into one ConfigError line that names the file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .runtime.limits import MAX_CONFIG_BYTES, read_bounded

MAX_DEPTH = 32


def _loader() -> Any:
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """SafeLoader that refuses anchors and aliases, and documents nested deeper than MAX_DEPTH."""

        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401
            if self.check_event(yaml.AliasEvent):
                ev = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in edgetl files; "
                                                  "write the value out", ev.start_mark)
            ev = self.peek_event()
            if getattr(ev, "anchor", None) is not None:
                raise yaml.composer.ComposerError(None, None, "anchors (&name) are not allowed in edgetl files",
                                                  ev.start_mark)
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                      ev.start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return NoAliasLoader


def load_mapping(path: str | Path, what: str) -> dict[str, Any] | None:
    """Parse a YAML (or JSON) file that must hold a mapping; None when the file is empty.

    Args:
        what: How to name the file in errors ("Config file", "Device profile").
    """
    p = Path(path)
    try:
        raw = read_bounded(p, MAX_CONFIG_BYTES, f"{what} {str(p)!r}", error=ConfigError)
    except OSError as exc:
        raise ConfigError(f"Cannot read {what.lower()} {str(p)!r}: {exc.strerror or exc}.") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        import yaml
    except ImportError:
        try:
            data = json.loads(text) if text.strip() else None
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"{what} {str(p)!r} is not valid JSON and PyYAML is not installed: {exc}") from None
    else:
        try:
            data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            ctx, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if ctx and cmark is not None and (mark is None or cmark.line != mark.line):
                problem += f" ({ctx} that starts at line {cmark.line + 1}, column {cmark.column + 1})"
            raise ConfigError(f"{what} {str(p)!r} is not valid YAML{where}: {problem}. Fix that line (a list is "
                              "[a, b], a mapping key: value, indentation by spaces).") from None
        except (RecursionError, ValueError, OverflowError, TypeError) as exc:
            raise ConfigError(f"{what} {str(p)!r} cannot be read ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]}).") from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(p)!r} must hold a mapping of options; found {type(data).__name__}.")
    return data
