"""Silence native libraries' writes to stderr (TensorFlow's MLIR quantizer prints "fully_quantize: 0, ..."
from C++, past Python's logging) unless the user asked for them with ``-v`` (or ``EDGETL_QUIET_NATIVE=0`` in the
Python API); keep them when a step fails."""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import IO, Iterator


_REAL: list[int] = []  # the terminal's stderr while a quiet block has fd 2 pointed at a temporary file


def quiet_native() -> bool:
    """Native libraries' stderr is hidden unless ``-v`` (the CLI) or ``EDGETL_QUIET_NATIVE=0`` (the Python API)."""
    return os.environ.get("EDGETL_QUIET_NATIVE", "1").strip() != "0"


def terminal() -> IO[str]:
    """Where progress goes: stderr, or the real stderr while :func:`native_stderr_quiet` hides fd 2."""
    if not _REAL:
        return sys.stderr
    return open(_REAL[-1], "w", closefd=False, encoding="utf-8", errors="replace")


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    if not quiet_native():
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, notebooks: nothing to redirect
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        _REAL.append(saved)
        ok = False
        try:
            yield
            ok = True
        finally:
            _REAL.pop()
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            if not ok:  # a failure: show what the library said
                tmp.seek(0)
                sys.stderr.write(tmp.read()[-4000:].decode(errors="replace"))
