"""The progress counter of long steps: drawn on a terminal with its count and elapsed time, silent elsewhere."""
from __future__ import annotations

import io
import os
import sys

from edgetl.progress import scope, track
from edgetl.runtime.quiet import native_stderr_quiet


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_counter_on_a_terminal_draws_count_scope_and_time_then_erases(monkeypatch):
    monkeypatch.delenv("EDGETL_PROGRESS", raising=False)
    out = _Tty()
    with scope("tflite:int8"):
        items = list(track(range(5), "verify (validation)", stream=out, show_after_s=0.0))
    assert items == list(range(5))
    text = out.getvalue()
    assert "tflite:int8 verify (validation) 5/5 (0:00)" in text
    assert text.endswith("\r") and text.rstrip("\r").split("\r")[-1].strip() == ""  # the line is erased at the end


def test_counter_is_silent_off_a_terminal_and_when_turned_off(monkeypatch):
    monkeypatch.delenv("EDGETL_PROGRESS", raising=False)
    pipe = io.StringIO()
    assert list(track([1, 2, 3], "calibration", stream=pipe, show_after_s=0.0)) == [1, 2, 3]
    assert pipe.getvalue() == ""
    monkeypatch.setenv("EDGETL_PROGRESS", "0")
    tty = _Tty()
    list(track([1, 2, 3], "calibration", stream=tty, show_after_s=0.0))
    assert tty.getvalue() == ""


def test_a_short_step_never_draws(monkeypatch):
    monkeypatch.setenv("EDGETL_PROGRESS", "1")
    out = _Tty()
    list(track(range(100), "range audit", stream=out))  # far under SHOW_AFTER_S
    assert out.getvalue() == ""


def test_counter_reaches_the_terminal_while_native_stderr_is_hidden(monkeypatch, tmp_path):
    """Calibration runs inside the converter, whose C++ stderr is redirected: the counter must still be seen."""
    monkeypatch.setenv("EDGETL_PROGRESS", "1")
    monkeypatch.setenv("EDGETL_QUIET_NATIVE", "1")
    log = tmp_path / "stderr.txt"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    saved = os.dup(2)
    real_stderr = sys.stderr
    try:
        os.dup2(fd, 2)
        sys.stderr = open(2, "w", closefd=False)
        with native_stderr_quiet():
            os.write(2, b"native chatter\n")
            list(track(range(3), "calibration", show_after_s=0.0))
    finally:
        sys.stderr.flush()
        sys.stderr = real_stderr
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    text = log.read_text()
    assert "calibration 3/3" in text and "native chatter" not in text
