"""Decode a dataset once into a uint8 array cached on disk, keyed by content, skipping bad files."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import atomic_write_bytes
from ..errors import DataError
from .images import DECODE_VERSION, RESIZE_METHOD, ImageDecodeError, load_array
from .scan import Dataset

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    env = os.environ.get("EDGETL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgetl"


@dataclass
class DecodedImages:
    """Decoded pixels of the usable samples of a dataset (bad files already removed)."""

    dataset: Dataset
    pixels: np.ndarray  # (N, size, size, 3) uint8
    key: str


def save_npy(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def load_npy(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError):
        path.unlink(missing_ok=True)  # corrupted cache entry: rebuild it
        return None


def decode_dataset(ds: Dataset, size: int, *, cache_dir: Path | None, strict: bool = False,
                   progress: bool = True, content_hash: str | None = None) -> DecodedImages:
    """Decode every sample to (size, size, 3); bad files are recorded in ``ds.skipped`` (or raise with strict)."""
    chash = content_hash or ds.content_hash()
    key = hashlib.sha256(f"{chash}|{size}|{RESIZE_METHOD}|v{DECODE_VERSION}".encode()).hexdigest()[:16]
    cache_file = skip_file = None
    if cache_dir is not None:
        from ..runs import mark_cache

        cache_file = mark_cache(Path(cache_dir)) / "decoded" / f"{key}.npy"
        skip_file = cache_file.with_suffix(".skipped.json")
        if cache_file.is_file() and skip_file.is_file():
            arr = load_npy(cache_file)
            skipped = _read_skips(skip_file)
            if arr is not None and skipped is not None:
                _apply_skips(ds, skipped, strict)
                if len(ds.samples) == arr.shape[0]:
                    return DecodedImages(ds, np.asarray(arr), key)
    out = np.empty((len(ds.samples), size, size, 3), dtype=np.uint8)
    ok = np.ones(len(ds.samples), dtype=bool)
    errors: list[tuple[str, str]] = []

    def work(i: int) -> None:
        try:
            out[i] = load_array(ds.samples[i].path, size)
        except ImageDecodeError as exc:
            ok[i] = False
            errors.append((str(ds.samples[i].path), str(exc).split(": ", 1)[-1]))

    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"decoding {len(ds.samples)} images", total=len(ds.samples))
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
            for _ in pool.map(work, range(len(ds.samples))):
                bar.advance(task)
    errors.sort()
    pixels = out[ok]
    _apply_skips(ds, errors, strict)
    if cache_file is not None and skip_file is not None:
        save_npy(cache_file, pixels)
        atomic_write_bytes(skip_file, json.dumps([[p, r] for p, r in errors]).encode())
    return DecodedImages(ds, pixels, key)


def _read_skips(path: Path) -> list[tuple[str, str]] | None:
    """The skip list as JSON (file names may hold any character, line breaks included); None if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [(str(p), str(r)) for p, r in data]
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None


def _apply_skips(ds: Dataset, skipped: list, strict: bool) -> None:
    if not skipped:
        return
    if strict:
        listing = "\n".join(f"  {p}: {r}" for p, r in skipped[:20])
        raise DataError(f"{len(skipped)} file(s) in {str(ds.root)!r} cannot be decoded (strict mode):\n{listing}\n"
                        "Fix or remove them, or run without --strict to skip them.")
    bad = {p for p, _ in skipped}
    for p, r in skipped:
        log.warning("skipping unreadable image %s (%s)", p, r)
    ds.samples = [s for s in ds.samples if str(s.path) not in bad]
    ds.skipped = [(p, r) for p, r in skipped]
    counts = ds.counts()
    empty = [c for c, n in counts.items() if n == 0]
    if empty:
        raise DataError(f"After skipping {len(skipped)} unreadable file(s), class(es) {empty} in "
                        f"{str(ds.root)!r} have no usable images. Add readable images to them.")
