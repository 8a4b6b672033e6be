"""What every stage config shares: typed coercion with a "did you mean" hint, YAML loading, --set overrides."""
from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError

C = TypeVar("C", bound="ConfigBase")


def _suggest(name: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/JSON/CLI value into the annotated plain type, or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        return _coerce(value, args[0], key)
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        if isinstance(value, str):  # "a,b" or YAML's flow "[a, b]" (--set bench.devices=[rpi4,rpi5])
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            value = [v.strip().strip("'\"") for v in text.split(",") if v.strip().strip("'\"")]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, received {value!r}.")
        return tuple(_coerce(v, inner, key) for v in value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            known = [m.value for m in tp]
            raise ConfigError(f"{key}: unknown value {value!r}.{_suggest(str(value), known)} "
                              f"Known: {', '.join(known)}.") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{key}: expected true or false, received {value!r}.")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, received {value!r}.")
        try:
            out = tp(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: expected {tp.__name__}, received {value!r}.") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise ConfigError(f"{key}: expected a finite number, received {value!r}.")
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key}: expected an integer, received {value!r}.")
        return out
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected text, received {value!r}.")
        return str(value)
    return value


@dataclass(frozen=True, kw_only=True)
class ConfigBase:
    """Shared from_dict/to_dict/override logic."""

    section: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[C], data: typing.Mapping[str, Any] | None) -> C:
        data = dict(data or {})
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [str(k) for k in data if not isinstance(k, str) or k not in names]
        if unknown:
            k = unknown[0]
            raise ConfigError(f"Unknown {cls.section or cls.__name__} option {k!r}.{_suggest(k, names)} "
                              f"Known: {', '.join(names)}.")
        missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING and f.name not in data]
        if missing:
            where = f"{cls.section}.{missing[0]}" if cls.section else missing[0]
            raise ConfigError(f"{where} is required: {cls._describe(missing[0])}. Give it as --{missing[0].replace('_', '-')}"
                              f" (command line), under '{cls.section}:' in the YAML file, or with --set {where}=...")
        kwargs = {k: _coerce(v, hints[k], f"{cls.section}.{k}" if cls.section else k) for k, v in data.items()}
        return cls(**kwargs)

    @classmethod
    def _describe(cls, name: str) -> str:
        """The field's line from the class docstring's Attributes section."""
        for line in (cls.__doc__ or "").splitlines():
            if line.strip().startswith(f"{name}:"):
                return line.strip()[len(name) + 1:].strip().rstrip(".").lower()
        return "no default"

    def _coerce_fields(self) -> None:
        """Let the Python API take the same plain values as YAML ("fine_tune", ["flip"], "3")."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            key = f"{self.section}.{f.name}" if self.section else f.name
            object.__setattr__(self, f.name, _coerce(v, hints[f.name], key))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, enum.Enum):
                v = v.value
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def replace(self: C, **changes: Any) -> C:
        merged = self.to_dict() | changes
        return type(self).from_dict(merged)



def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) config file into a dict, with errors that name the file (see ``safe_yaml``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file {str(p)!r} does not exist. Check the path.")
    from ..safe_yaml import load_mapping

    return load_mapping(p, "Config file") or {}


def apply_overrides(data: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Apply ``key=value`` (or ``section.key=value``) overrides to a nested dict, returning a new dict."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value; received {item!r}.")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section.")
        node[parts[-1]] = value
    return out
