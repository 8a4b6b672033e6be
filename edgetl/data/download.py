"""Public datasets fetched on demand into the cache (``data: download:flower_photos``)."""
from __future__ import annotations

import shutil
import tarfile
import urllib.request
from pathlib import Path

from ..errors import DataError

DATASETS = {
    # The archive the TensorFlow image-classification tutorials use (CC BY 2.0 photos).
    "flower_photos": ("https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
                      "flower_photos"),
}
PREFIX = "download:"


def resolve_data(spec: str, cache_dir: Path) -> str:
    """Return a local folder for ``spec``: a path as is, or ``download:<name>`` fetched into the cache."""
    if not spec.startswith(PREFIX):
        return spec
    name = spec[len(PREFIX):]
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r} to download; known: {', '.join(DATASETS)}.")
    url, folder = DATASETS[name]
    from ..runs import mark_cache

    target = mark_cache(cache_dir) / "datasets" / folder
    if (target / ".complete").is_file():
        return str(target)
    tmp = cache_dir / "datasets" / f".{folder}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    archive = tmp / "archive.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(archive, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"Could not download {name} from {url} ({exc}). Offline? Point the config at a local copy "
                        f"instead: --set train.data=/path/to/{folder}") from exc
    safe_extract(archive, tmp)
    archive.unlink()
    extracted = tmp / folder
    shutil.rmtree(target, ignore_errors=True)
    extracted.rename(target)
    (target / ".complete").write_text(url + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive refusing members that would land outside ``dest`` (or are links/devices)."""
    root = dest.resolve()
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            target = (dest / m.name).resolve()
            if not (target == root or root in target.parents):
                raise DataError(f"{archive}: member {m.name!r} would be written outside {dest}; refusing the archive.")
            if not (m.isfile() or m.isdir()):
                raise DataError(f"{archive}: member {m.name!r} is a link or device; refusing the archive.")
        tar.extractall(dest, filter="data")
