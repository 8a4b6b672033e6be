"""Stages and the runner that caches them by content hash in ``<run_dir>/<stage>-<key>/``.

A stage writes only inside the temporary folder it is given; the runner renames that folder into
place after the stage returned and its ``stage.json`` was written, so a killed run leaves either a
complete stage folder or a ``.tmp`` folder that the next run deletes.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol

from .artifacts import Artifact, atomic_write_json, cache_key, read_json
from .errors import DiskFullError

log = logging.getLogger(__name__)
STAGE_FILE = "stage.json"
STAGE_RE = re.compile(r"^([a-z][a-z0-9_]*)-([0-9a-f]{12})$")  # <stage>-<key>
TMP_RE = re.compile(r"^([a-z][a-z0-9_]*)-([0-9a-f]{12})\.tmp-([0-9]{1,10})$")  # <stage>-<key>.tmp-<pid>
TMP_MARKER = ".edgetl-tmp"  # inside a temporary stage folder: the pid that made it, proof that it is edgetl's


def tmp_owner(d: Path) -> int | None:
    """The pid that made a ``<stage>-<key>.tmp-<pid>`` folder, when it holds edgetl's marker with that pid."""
    m = TMP_RE.match(d.name)
    if not m or d.is_symlink() or not d.is_dir():
        return None
    try:
        marker = (d / TMP_MARKER).read_text(encoding="utf-8", errors="replace")[:64].strip()
    except OSError:
        return None
    return int(m.group(3)) if marker == m.group(3) else None


def write_tmp_marker(tmp_dir: Path) -> None:
    (tmp_dir / TMP_MARKER).write_text(tmp_dir.name.rsplit(".tmp-", 1)[1] + "\n", encoding="utf-8")


@dataclass
class RunContext:
    """What a running stage may use: its own output folder, a log file inside it, and ``info``: a few facts for
    ``stage.json`` and the run's summary (a train stage's top-1, an export's status and size)."""

    run_dir: Path
    out_dir: Path
    key: str
    info: dict[str, Any] = field(default_factory=dict)

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
        if tmp_owner(stale) is not None:
            shutil.rmtree(stale, ignore_errors=True)
    tmp_dir = run_dir / f"{stage.name}-{key}.tmp-{os.getpid()}"
    tmp_dir.mkdir(parents=True)
    write_tmp_marker(tmp_dir)
    if on_start:
        on_start(stage.name, key)
    ctx = RunContext(run_dir=run_dir, out_dir=tmp_dir, key=key)
    t0 = time.perf_counter()
    try:
        outputs = stage.run(inputs, config, ctx)
    except BaseException as exc:
        written = _tree_bytes(tmp_dir)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if disk_full(exc):
            raise DiskFullError(disk_full_message(run_dir, f"stage {stage.name}", written)) from None
        raise
    seconds = time.perf_counter() - t0
    info = ctx.info
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


def disk_full(exc: BaseException | None) -> bool:
    """True when ENOSPC (or a quota) is anywhere in the exception's chain, however a library wrapped it."""
    import errno

    seen = 0
    while exc is not None and seen < 32:
        if getattr(exc, "errno", None) in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return True
        text = str(exc)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def disk_full_message(folder: Path, what: str, written: int) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    need = max(written * 2, 200 << 20)
    return (f"{folder}: the disk is full ({free / 2**20:,.0f} MB free) while writing {what} ({written / 2**20:,.0f} MB "
            f"written, now removed). Free at least {need / 2**20:,.0f} MB there (or pass another --out / run_dir on "
            "a disk with space) and rerun the same command: finished stages are kept.")


def _tree_bytes(d: Path) -> int:
    try:
        return sum(f.lstat().st_size for f in d.rglob("*") if f.is_file())
    except OSError:
        return 0
