"""Loading user-supplied Keras files safely (Keras safe mode; Lambda layers refused unless asked)."""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelFileError


def load_keras(path: str | Path, *, unsafe: bool = False) -> Any:
    """Load a ``.keras`` file with ``safe_mode`` on, turning every failure into an EdgetlError.

    Args:
        unsafe: Allow layers that run arbitrary Python on load (Lambda). Only for files you trust.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Keras model {str(p)!r} does not exist.")
    if not zipfile.is_zipfile(p):
        raise ConfigError(f"{p} is not a Keras .keras file (not a zip archive). Save the model with model.save('x.keras').")
    check_keras_archive(p)  # before Keras reads a byte of it
    import keras

    from .text.encoder import layer_classes

    layer_classes()  # edgetl's text encoder layers, registered so text models load (safe mode stays on)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.models.load_model(p, compile=False, safe_mode=not unsafe)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError, zip errors...
        msg = " ".join(str(exc).split())
        if "safe_mode" in msg or "safe mode" in msg:
            what = ("a Lambda layer" if "Lambda" in msg else "a Python lambda" if "lambda" in msg else
                    "code that runs when the file is loaded")
            raise ModelFileError(f"{p} contains {what}, which Keras safe mode refuses because it runs arbitrary Python "
                                 f"code (Keras: {msg[:200]}). If you trust the file, load it with unsafe=True (CLI: "
                                 "--unsafe-keras).") from None
        raise ModelFileError(f"{p}: Keras cannot load this model ({type(exc).__name__}: {msg[:300]}). The file "
                             "may be truncated or from an incompatible Keras version.") from None


def check_keras_archive(p: Path) -> None:
    """Refuse a .keras zip whose declared contents would take unbounded memory or disk (a zip bomb)."""
    from .runtime.limits import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_MEMBER_BYTES

    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{p}: not a readable .keras archive ({exc}). Save the model again.") from None
    if len(infos) > 10_000:
        raise ModelFileError(f"{p}: the archive holds {len(infos)} members; a .keras file holds a few. Refused.")
    total = 0
    for info in infos:
        total += info.file_size
        small = not info.filename.endswith(".h5") and not info.filename.endswith(".npz")
        if small and info.file_size > MAX_ARCHIVE_MEMBER_BYTES.value:
            raise ModelFileError(MAX_ARCHIVE_MEMBER_BYTES.exceeded(info.file_size, f"{p}: member {info.filename!r}")
                                 + ".")
        if info.file_size > 64 << 20 and info.file_size > 50 * max(info.compress_size, 1):
            raise ModelFileError(f"{p}: member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                                 f"x to {info.file_size:,} bytes, which real weights never do (a zip bomb). Refused.")
    if total > MAX_ARCHIVE_BYTES.value:
        raise ModelFileError(MAX_ARCHIVE_BYTES.exceeded(total, f"{p}: uncompressed archive") + ".")
