"""Loading user-supplied Keras files safely (Keras safe mode; Lambda layers refused unless asked)."""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from .errors import ConfigError, EdgetlError


def load_keras(path: str | Path, *, unsafe: bool = False) -> Any:
    """Load a ``.keras`` file with ``safe_mode`` on, turning every failure into an EdgetlError.

    Args:
        unsafe: Allow layers that run arbitrary Python on load (Lambda). Only for files you trust.
    """
    import keras

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Keras model {str(p)!r} does not exist.")
    if not zipfile.is_zipfile(p):
        raise ConfigError(f"{p} is not a Keras .keras file (not a zip archive). Save the model with model.save('x.keras').")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.models.load_model(p, compile=False, safe_mode=not unsafe)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError, zip errors...
        msg = str(exc)
        if "Lambda" in msg or "safe_mode" in msg:
            raise EdgetlError(f"{p} contains a Lambda layer, which runs arbitrary Python code when loaded, so edgetl "
                              "refuses it. If you trust the file, load it with unsafe=True (CLI: --unsafe-keras).") from exc
        raise EdgetlError(f"{p}: Keras cannot load this model ({type(exc).__name__}: {msg.strip()[:300]}). The file "
                          "may be truncated or from an incompatible Keras version.") from exc
