"""Progress a person can see in long steps: a counter with elapsed time on a terminal, nothing elsewhere.

Calibration, weight rounding, the range audit, the sensitivity search and verification each loop over
images or layers for seconds to minutes behind one start line. :func:`track` wraps such a loop::

    for x in track(images, "verify"):
        ...

On a terminal (stderr a tty) a step that has run for over a second shows one line, redrawn in place,
``      tflite:int8 verify 120/563 (0:14)``, and erases it when done; the stage that runs the step names it
with :func:`scope`. Not on a terminal (CI, logs, a pipe) nothing is written. ``EDGETL_PROGRESS=0`` turns
it off, ``EDGETL_PROGRESS=1`` on (for tests and ``script``-like wrappers).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Iterable, Iterator, TypeVar

from .runtime.quiet import terminal

T = TypeVar("T")
_scope: ContextVar[str] = ContextVar("edgetl_progress_scope", default="")
SHOW_AFTER_S = 1.0  # a step shorter than this never draws (EDGETL_PROGRESS_AFTER_S sets another)
REFRESH_S = 0.25  # at most four redraws a second


def enabled(stream: IO[str]) -> bool:
    setting = os.environ.get("EDGETL_PROGRESS", "").strip().lower()
    if setting in ("0", "off", "no", "false"):
        return False
    if setting in ("1", "on", "yes", "true"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def scope(name: str) -> Iterator[None]:
    """Name the steps run inside (``tflite:int8``), so their counters say whose they are."""
    token = _scope.set(name)
    try:
        yield
    finally:
        _scope.reset(token)


def _show_after() -> float:
    try:
        return max(float(os.environ.get("EDGETL_PROGRESS_AFTER_S", SHOW_AFTER_S)), 0.0)
    except ValueError:
        return SHOW_AFTER_S


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


class Counter:
    """``done/total`` and the elapsed time of one step, redrawn in place on a terminal."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None,
                 show_after_s: float | None = None) -> None:
        self.stream = stream or terminal()
        self.on = enabled(self.stream)
        where = _scope.get()
        self.label = f"{where} {label}" if where else label
        self.total, self.done = total, 0
        self.t0 = self.last = time.perf_counter()
        self.show_after = _show_after() if show_after_s is None else show_after_s
        self.width = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.on:
            return
        now = time.perf_counter()
        if now - self.t0 >= self.show_after and (now - self.last >= REFRESH_S or self.done == self.total):
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        text = f"      {self.label} {count} ({_clock(now - self.t0)})"
        pad = " " * max(self.width - len(text), 0)
        self.width = len(text)
        try:
            self.stream.write("\r" + text + pad)
            self.stream.flush()
        except (OSError, ValueError):
            self.on = False

    def close(self) -> None:
        if self.width:
            try:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.width = 0


def track(items: Iterable[T], label: str, total: int | None = None, *, stream: IO[str] | None = None,
          show_after_s: float | None = None) -> Iterator[T]:
    """``items``, counting each one on the terminal under ``label`` (see the module's docstring)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    counter = Counter(label, total, stream, show_after_s)
    try:
        for item in items:
            yield item
            counter.update()
    finally:
        counter.close()
