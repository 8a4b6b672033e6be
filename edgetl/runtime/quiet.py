"""Silence native libraries' writes to stderr (TensorFlow's MLIR quantizer prints "fully_quantize: 0, ..."
from C++, past Python's logging) unless the user asked for them with ``-v``; keep them when a step fails."""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    if os.environ.get("EDGETL_QUIET_NATIVE") != "1":
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
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            if not ok:  # a failure: show what the library said
                tmp.seek(0)
                sys.stderr.write(tmp.read()[-4000:].decode(errors="replace"))
