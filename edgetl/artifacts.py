"""Content-hashed artifacts, atomic writes, manifests and cache keys.

Every file edgetl writes goes through a temporary name and an atomic rename, so an interrupted run
never leaves a file that looks complete. A stage folder is complete only when its ``stage.json`` exists.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class Artifact:
    """A file produced by a stage: its path, content hash and kind (keras, tflite, onnx, json, ...)."""

    path: Path
    sha256: str
    kind: str

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def to_dict(self, relative_to: Path | None = None) -> dict[str, str]:
        p = self.path.relative_to(relative_to) if relative_to else self.path
        return {"path": str(p), "sha256": self.sha256, "kind": self.kind}

    @classmethod
    def from_file(cls, path: str | Path, kind: str) -> "Artifact":
        p = Path(path)
        return cls(path=p, sha256=sha256_file(p), kind=kind)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(stage: str, version: int, config: Mapping[str, Any], inputs: Mapping[str, str],
              tool_versions: Mapping[str, str]) -> str:
    """sha256 of the canonical JSON of everything that decides a stage's output, 12 hex characters."""
    payload = {"stage": stage, "version": version, "config": dict(config), "inputs": dict(inputs),
               "tools": dict(tool_versions)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:12]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (those not installed are left out)."""
    from importlib import metadata

    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out
