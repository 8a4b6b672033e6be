"""Stages and the runner that caches them by content hash in ``<run_dir>/<stage>-<key>/``.

A stage writes only inside the temporary folder it is given; the runner renames that folder into
place after the stage returned and its ``stage.json`` was written, so a killed run leaves either a
complete stage folder or a ``.tmp`` folder that the next run deletes.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol

from .artifacts import Artifact, atomic_write_json, cache_key, read_json

log = logging.getLogger(__name__)
STAGE_FILE = "stage.json"


@dataclass
class RunContext:
    """What a running stage may use: its own output folder, and a log file inside it."""

    run_dir: Path
    out_dir: Path
    key: str
    notes: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        log.info(message)
        with open(self.out_dir / "log.txt", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")


class Stage(Protocol):
    name: ClassVar[str]
    version: ClassVar[int]

    def tool_versions(self) -> Mapping[str, str]: ...

    def run(self, inputs: Mapping[str, Artifact], config: Any, ctx: RunContext) -> dict[str, Artifact]: ...


@dataclass(frozen=True)
class StageResult:
    stage: str
    key: str
    out_dir: Path
    outputs: dict[str, Artifact]
    cached: bool
    seconds: float
    info: dict[str, Any]


def _load_cached(out_dir: Path) -> StageResult | None:
    meta_path = out_dir / STAGE_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = read_json(meta_path)
        outputs = {k: Artifact(out_dir / v["path"], v["sha256"], v["kind"]) for k, v in meta["outputs"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(a.path.is_file() for a in outputs.values()):
        return None
    return StageResult(meta["stage"], meta["key"], out_dir, outputs, True, meta.get("seconds", 0.0),
                       meta.get("info", {}))


LOCK_DIR = ".locks"


@contextmanager
def locked(run_dir: Path, name: str) -> Iterator[None]:
    """An exclusive lock on ``name`` within ``run_dir`` (flock, released when the process dies).

    Two edgetl processes on one run folder take turns on a stage instead of deleting each other's
    temporary folders; the second then finds the first one's finished stage and reuses it.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one process per run folder
        yield
        return
    lock_dir = run_dir / LOCK_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another edgetl process that is running %s in %s", name, run_dir)
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def run_stage(stage: Stage, inputs: Mapping[str, Artifact], config: Any, run_dir: str | Path, *,
              config_dict: Mapping[str, Any] | None = None,
              on_start: Callable[[str, str], None] | None = None) -> StageResult:
    """Run ``stage`` unless a finished folder with the same cache key exists; return its outputs.

    ``config_dict`` is what enters the cache key (defaults to ``config.to_dict()``); pass a reduced dict
    when some options (output paths, verbosity) must not invalidate the cache.
    """
    run_dir = Path(run_dir)
    cfg = dict(config_dict if config_dict is not None else config.to_dict())
    key = cache_key(stage.name, stage.version, cfg, {k: a.sha256 for k, a in inputs.items()},
                    stage.tool_versions())
    out_dir = run_dir / f"{stage.name}-{key}"
    cached = _load_cached(out_dir)
    if cached is not None:
        log.info("%s: reusing %s", stage.name, out_dir)
        return cached
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir, f"{stage.name}-{key}"):
        cached = _load_cached(out_dir)  # another process may have finished it while we waited
        if cached is not None:
            log.info("%s: reusing %s (finished by another process)", stage.name, out_dir)
            return cached
        return _run_locked(stage, inputs, config, run_dir, out_dir, key, cfg, on_start)


def _run_locked(stage: Stage, inputs: Mapping[str, Artifact], config: Any, run_dir: Path, out_dir: Path, key: str,
                cfg: dict[str, Any], on_start: Callable[[str, str], None] | None) -> StageResult:
    if out_dir.exists():  # an unfinished or corrupted folder: never trust it
        shutil.rmtree(out_dir)
    for stale in run_dir.glob(f"{stage.name}-{key}.tmp-*"):  # we hold the lock: these are from dead processes
        shutil.rmtree(stale, ignore_errors=True)
    tmp_dir = run_dir / f"{stage.name}-{key}.tmp-{os.getpid()}"
    tmp_dir.mkdir(parents=True)
    if on_start:
        on_start(stage.name, key)
    ctx = RunContext(run_dir=run_dir, out_dir=tmp_dir, key=key)
    t0 = time.perf_counter()
    try:
        outputs = stage.run(inputs, config, ctx)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    info = getattr(ctx, "info", {})
    meta = {
        "schema": 1, "stage": stage.name, "version": stage.version, "key": key, "config": cfg,
        "inputs": {k: {"sha256": a.sha256, "path": str(a.path)} for k, a in inputs.items()},
        "tools": dict(stage.tool_versions()), "seconds": round(seconds, 3), "info": info,
        "outputs": {k: a.to_dict(relative_to=tmp_dir) for k, a in outputs.items()},
    }
    atomic_write_json(tmp_dir / STAGE_FILE, meta)
    os.replace(tmp_dir, out_dir)
    final = {k: Artifact(out_dir / a.path.relative_to(tmp_dir), a.sha256, a.kind) for k, a in outputs.items()}
    return StageResult(stage.name, key, out_dir, final, False, seconds, info)
