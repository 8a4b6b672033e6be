"""Printing untrusted text (file names, labels, op names, error messages) literally.

Rich interprets ``[red]`` as markup and ``:smile:`` as an emoji; a terminal interprets escape sequences.
Every command prints through :func:`console`, which parses **no** markup and no emoji codes at all (styles
come from :func:`styled`, a ``Text`` object), and every piece of text that came from a file, a folder name
or a model goes through :func:`esc`, so ``[/x]`` or ``\\[`` in a file name neither crashes the table nor
changes, and an ESC or U+2028 in a label shows as ``\\x1b`` / ``\\u2028``.
"""
from __future__ import annotations

import sys
import unicodedata
from typing import Any

_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


def plain(text: Any) -> str:
    """``text`` with control, line-separator and bidi-override characters written as escapes."""
    s = str(text)
    if s.isprintable() and not any(ch in _BIDI for ch in s):
        return s
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp", "Cs") or ch in _BIDI:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


MAX_CELL = 400  # characters of one untrusted name shown in a table; longer ones are clipped with a count


def esc(text: Any, limit: int = MAX_CELL) -> str:
    """Untrusted text, safe to print through :func:`console` (which parses no markup): control characters
    escaped, and clipped to ``limit`` characters so a megabyte-long label cannot stall the table layout."""
    s = str(text)
    if len(s) > limit:
        s = f"{s[:limit]}...(+{len(s) - limit:,} chars)"
    return plain(s)


def styled(text: Any, style: str) -> Any:
    """A styled piece of text (rich ``Text``): the only way edgetl colours output, so nothing is parsed."""
    from rich.text import Text

    return Text(plain(text), style=style)


def line(*parts: Any) -> Any:
    """A line assembled from plain strings and :func:`styled` pieces."""
    from rich.text import Text

    return Text.assemble(*[p if not isinstance(p, str) else Text(p) for p in parts])


def console(width: int | None = None, *, stderr: bool = False) -> Any:
    """A rich Console for edgetl's tables: no emoji codes, no automatic highlighting; the terminal's width (or
    ``$COLUMNS``), and ``width`` when writing to a file or a pipe."""
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    sized = stream.isatty() or os.environ.get("COLUMNS", "").strip().isdigit()
    return Console(width=None if sized else (width or 160), emoji=False, highlight=False, markup=False,
                   stderr=stderr)


def fit(table: Any, width: int, *, wrap: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> list[str]:
    """Make ``table`` fit ``width`` columns without cutting a cell: every column but the free-text ones
    (``wrap``: descriptions, notes, paths) keeps its longest cell whole (headers wrap at spaces), and while the
    table is still too wide the columns in ``drop`` go, in that order. Returns the headers dropped, for a note.

    So a narrow terminal never shows ``tflite:dyna...`` or ``0.8...``; it shows fewer columns, every one whole."""
    from rich.text import Text

    def cell_len(c: Any) -> int:
        return c.cell_len if isinstance(c, Text) else Text(str(c)).cell_len

    free = {str(c.header) for c in table.columns if str(c.header) in wrap}
    for col in table.columns:
        header = max((len(w) for w in str(col.header).split()), default=1)
        if str(col.header) in free:
            col.min_width = max(header, 12)  # free text: wraps, but not a few letters a line
            col.overflow = "fold"
        else:
            col.min_width = max([header, *(cell_len(c) for c in col.cells)])  # no cell wraps; headers may

    def need(natural: bool = False) -> int:
        return sum(max(c.min_width, len(str(c.header)) if natural else 0) + 2 for c in table.columns) \
            + len(table.columns) + 1

    dropped = []
    for name in drop:
        if need() <= width:
            break
        for i, col in enumerate(table.columns):
            if str(col.header) == name:
                table.columns.pop(i)
                dropped.append(name)
                break
    if need(natural=True) > width:  # rich would share the excess out, not shrink to these: fix them
        for col in table.columns:
            if str(col.header) not in free:
                col.width = col.min_width
    return dropped


def dropped_note(dropped: list[str], where: str) -> str:
    return f"(narrow terminal: {', '.join(dropped)} not shown; every column in {where})" if dropped else ""
