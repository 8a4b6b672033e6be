"""One helper for optional dependencies, so a missing package names the pip command that fixes it."""
from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

from .errors import MissingDependencyError

_PIP_NAMES = {
    "tensorflow": "tensorflow-cpu",
    "tf2onnx": "tf2onnx",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "ai_edge_litert": "ai-edge-litert",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "matplotlib": "matplotlib",
    "torch": "torch==2.13.0",
    "ray": "ray==2.60.0",
}


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise a MissingDependencyError that names the extra to install.

    Example:
        >>> np = require("numpy", extra="runtime")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        pip_name = _PIP_NAMES.get(top, top)
        raise MissingDependencyError(
            f"{module!r} is needed for this step but is not installed ({exc}). "
            f"Install it with: pip install 'edgetl[{extra}]' (or: pip install {pip_name})."
        ) from exc


def check_installed(module: str, *, extra: str) -> None:
    """Like :func:`require`, but only looks the module up (no import): a cheap check before heavy work starts."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        top = module.split(".")[0]
        raise MissingDependencyError(f"{module!r} is needed for this run but is not installed. Install it with: pip "
                                     f"install 'edgetl[{extra}]' (or: pip install {_PIP_NAMES.get(top, top)}).")


QUIET_LOGGERS = ("tensorflow", "absl", "keras", "tf2onnx")


def quiet_libraries() -> None:
    """Without -v (the CLI) or ``EDGETL_QUIET_NATIVE=0`` (the Python API): TensorFlow's C++ log level (read when
    TensorFlow is imported) and the Python loggers of TensorFlow, absl, Keras and tf2onnx at ERROR (retracing
    notices and the like). Native stderr itself: ``edgetl.runtime.quiet``."""
    if os.environ.get("EDGETL_QUIET_NATIVE", "1").strip() == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow and Keras once, with their C++ start-up lines (oneDNN notices) silenced unless -v."""
    from .runtime.quiet import native_stderr_quiet

    quiet_libraries()  # the Python API too: TF_CPP_MIN_LOG_LEVEL is read at import
    with native_stderr_quiet():
        tf = require("tensorflow", extra="train")
        require("keras", extra="train")
    return tf
