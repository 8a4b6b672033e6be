"""What a run folder holds, and cleaning it: the current artifacts, stale stage folders, the shared cache.

Stdlib only: ``edgetl artifacts`` and ``edgetl clean`` answer without loading TensorFlow.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .errors import ConfigError

RUN_FILE = "run.json"


def read_run(run_dir: str | Path) -> dict[str, Any]:
    rd = Path(run_dir)
    path = rd / RUN_FILE
    if not path.is_file():
        raise ConfigError(f"{str(rd)!r} is not an edgetl run folder (no {RUN_FILE}). Pass the --out folder of "
                          "'edgetl train' or the run_dir of 'edgetl pipeline'.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); rerun the command that made the run.") from None


def list_artifacts(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's current artifacts: target, status, accuracy, size, the stable path and the stage path."""
    rd = Path(run_dir)
    state = read_run(rd)
    rows = []
    for target, e in sorted((state.get("exports") or {}).items()):
        stage_file = rd / e["path"]
        stable = rd / "artifacts" / stage_file.name
        report = stage_file.parent / "report.json"
        rep = json.loads(report.read_text()) if report.is_file() else {}
        rows.append({"target": target, "status": e.get("status"), "accuracy": rep.get("accuracy"),
                     "accuracy_drop_points": rep.get("accuracy_drop_points"),
                     "size_bytes": stage_file.stat().st_size if stage_file.is_file() else None,
                     "path": str(stable if stable.is_file() else stage_file), "stage_path": str(stage_file)})
    return rows


def _size(p: Path) -> int:
    if p.is_symlink() or p.is_file():
        return p.lstat().st_size
    return sum(f.lstat().st_size for f in p.rglob("*") if f.is_file() or f.is_symlink())


def stale_paths(run_dir: str | Path) -> list[Path]:
    """Stage folders that run.json no longer points at (older keys), and leftovers of killed runs."""
    rd = Path(run_dir)
    state = read_run(rd)
    keep = {e["dir"] for e in (state.get("stages") or {}).values() if e.get("dir")}
    exports = {Path(e["path"]).parts[0] for e in (state.get("exports") or {}).values() if e.get("path")}
    keep |= exports | {_reference_of(rd / d) for d in exports}
    out = []
    for d in sorted(rd.iterdir()):
        if not d.is_dir() or d.is_symlink() or d.name.startswith(".") or d.name == "artifacts":
            continue
        if ".tmp-" in d.name or ("-" in d.name and d.name not in keep):
            out.append(d)
    return out


def _reference_of(export_dir: Path) -> str:
    """The reference stage an export was verified against (named in its stage.json)."""
    try:
        meta = json.loads((export_dir / "stage.json").read_text())
        return Path(meta["inputs"]["reference"]["path"]).parent.name
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def clean(run_dir: str | Path | None, *, cache_dir: Path | None, dry_run: bool) -> list[dict[str, Any]]:
    """Remove stale stage folders of ``run_dir`` and, when ``cache_dir`` is given, the shared cache."""
    targets: list[Path] = stale_paths(run_dir) if run_dir is not None else []
    if cache_dir is not None and cache_dir.exists():
        targets.append(cache_dir)
    done = []
    for p in targets:
        size = _size(p)
        if not dry_run:
            shutil.rmtree(p, ignore_errors=True)
        done.append({"path": str(p), "bytes": size, "removed": not dry_run})
    return done
