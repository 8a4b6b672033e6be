"""Labelled texts from a CSV, TSV or JSON-lines file, or from class folders of ``.txt`` files.

Rows that cannot be used (an empty text, a missing label, bytes that are not UTF-8) are skipped, counted and
named in the report, or refused with ``strict``; a label with control or line-separator characters is
refused, as an image class folder would be. Files are read up to a size limit, texts are cut at
``MAX_TEXT_CHARS`` (the model sees at most a few hundred tokens of them anyway).
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.scan import label_problem
from ..errors import DataError
from ..runtime.limits import MAX_TEXT_DATA_BYTES, open_regular
from ..runtime.tokenizer import MAX_TEXT_CHARS

TEXT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
MAX_FILES = 1_000_000
MAX_ROWS = 2_000_000
MAX_FIELD_CHARS = 1 << 20  # one CSV cell or JSONL line; texts are cut at MAX_TEXT_CHARS anyway


@dataclass
class TextDataset:
    """Usable texts and their labels; ``skipped`` lists (where, why) for each row that was left out."""

    root: Path
    classes: list[str]
    texts: list[str]
    label_ids: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.label_ids, dtype=np.int64)

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, n)}

    def content_hash(self) -> str:
        h = hashlib.sha256()
        for t, y in zip(self.texts, self.label_ids):
            h.update(f"{self.classes[y]}\x00{t}\x01".encode("utf-8", "surrogatepass"))
        return h.hexdigest()


def is_text_data(path: str | Path) -> bool:
    """A text file, or a folder whose class sub-folders hold .txt files (and no images)."""
    p = Path(path)
    if p.is_file():
        return p.suffix.lower() in TEXT_SUFFIXES
    if p.is_dir():
        for sub in sorted(p.iterdir())[:50]:
            if sub.is_dir():
                names = [f.suffix.lower() for f in list(sub.iterdir())[:50] if f.is_file()]
                if names:
                    return all(n == ".txt" for n in names)
    return False


def _holds_images(folder: Path, look: int = 200) -> bool:
    """Whether the first files under the class sub-folders are photos and none is a .txt."""
    from ..runtime.image import IMAGE_EXTENSIONS

    seen = 0
    images = 0
    for sub in sorted(folder.iterdir())[:64]:
        if not sub.is_dir() or sub.is_symlink():
            continue
        for f in itertools.islice(sub.iterdir(), look):  # a listing of 100k photos is never read whole
            seen += 1
            if f.suffix.lower() == ".txt":
                return False
            images += f.suffix.lower() in IMAGE_EXTENSIONS
            if seen >= look:
                return images > 0
    return images > 0


def load_texts(path: str | Path, *, text_column: str = "text", label_column: str = "label", strict: bool = False,
               classes: list[str] | None = None) -> TextDataset:
    p = Path(path)
    if not p.exists():
        raise DataError(f"Text data {str(p)!r} does not exist. Pass a CSV/TSV/JSONL file or a folder of class "
                        "sub-folders with .txt files.")
    if p.is_dir() and _holds_images(p):
        raise DataError(f"{str(p)!r} is a folder of images (class sub-folders of photos), and a text backbone reads "
                        "texts: a CSV/TSV/JSONL file with text,label columns or class sub-folders of .txt files. For "
                        "photos choose an image backbone (--set train.backbone=mobilenet_v2; edgetl backbones list).")
    rows = _read_folder(p) if p.is_dir() else _read_file(p, text_column, label_column)
    texts, labels, skipped = [], [], []
    for where, text, label in rows:
        why = ("not UTF-8" if _undecodable(text) or _undecodable(label) else
               "no label" if not label.strip() else "empty text" if not text.strip() else None)
        if why:
            skipped.append((where, why))
            continue
        texts.append(text[:MAX_TEXT_CHARS])
        labels.append(label.strip())
    if skipped and strict:
        listing = "; ".join(f"{w}: {r}" for w, r in skipped[:5])
        raise DataError(f"{len(skipped)} row(s) of {str(p)!r} cannot be used (strict mode): {listing}. Fix them, or "
                        "run without --strict to skip them.")
    for lab in sorted(set(labels)):
        bad = label_problem(lab)
        if bad:
            raise DataError(f"Label {lab!r} in {str(p)!r} {bad}. Rename it: labels end up in reports and on devices.")
    names = classes or sorted(set(labels))
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise DataError(f"{str(p)!r} has label(s) {unknown[:5]} that the training data does not have.")
    if classes is None and len(names) < 2:
        raise DataError(f"{str(p)!r} has {len(names)} label(s) ({names}) among {len(texts)} usable texts; a "
                        f"classifier needs at least two. Check --set text_column / label_column "
                        f"(now {text_column!r} / {label_column!r}).")
    index = {c: i for i, c in enumerate(names)}
    return TextDataset(p, names, texts, [index[x] for x in labels], skipped)


def _undecodable(s: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in s)


def _open_text(p: Path) -> io.TextIOWrapper:
    """The file as UTF-8 text (a BOM skipped, bad bytes kept as surrogates and skipped row by row), refused in one
    line when it is not a regular file or is over the size limit, before any of it is read."""
    f = open_regular(p, f"text data {str(p)!r}", DataError)
    size = os.fstat(f.fileno()).st_size
    if size > MAX_TEXT_DATA_BYTES.value:
        f.close()
        raise DataError(MAX_TEXT_DATA_BYTES.exceeded(size, f"text data {str(p)!r}") + "; or split the file.")
    return io.TextIOWrapper(f, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _read_file(p: Path, text_col: str, label_col: str) -> list[tuple[str, str, str]]:
    suffix = p.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise DataError(f"{str(p)!r}: edgetl reads text data from .csv, .tsv and .jsonl files or class folders.")
    with _open_text(p) as f:
        if suffix in (".jsonl", ".json"):
            return _read_jsonl(p, f, text_col, label_col)
        return _read_csv(p, f, text_col, label_col, "\t" if suffix == ".tsv" else ",")


def _read_csv(p: Path, f: io.TextIOWrapper, text_col: str, label_col: str, delimiter: str
              ) -> list[tuple[str, str, str]]:
    csv.field_size_limit(MAX_FIELD_CHARS)  # a cell is bounded, however long the file's one line is
    reader = csv.reader(f, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{str(p)!r} is empty. Give a header row with {text_col!r} and {label_col!r} columns.")
        header = [h.strip() for h in header]
        missing = [c for c in (text_col, label_col) if c not in header]
        if missing:
            raise DataError(f"{str(p)!r} has no column {missing[0]!r} (its columns: {header[:10]}). Name the columns "
                            "with --set text_column=... / label_column=....")
        ti, li = header.index(text_col), header.index(label_col)
        rows = []
        for row in reader:
            where = f"{p.name} line {reader.line_num}"
            if not row:
                continue
            _check_rows(p, len(rows))
            if len(row) != len(header):
                rows.append((where, "", ""))  # a broken row: counted as unusable below
                continue
            rows.append((where, row[ti][:MAX_TEXT_CHARS], row[li][:1000]))
        return rows
    except csv.Error as exc:
        hint = (f"a cell is longer than {MAX_FIELD_CHARS:,} characters (an unclosed quote?)" if "field larger" in str(exc)
                else str(exc))
        raise DataError(f"{str(p)!r} is not valid CSV near line {reader.line_num}: {hint}. Check its quoting.") from None


def _check_rows(p: Path, n: int) -> None:
    if n >= MAX_ROWS:
        raise DataError(f"{str(p)!r} has more than {MAX_ROWS:,} rows; edgetl refuses it to bound memory. Sample it "
                        "down (a classifier head needs far fewer), or split it.")


def _read_jsonl(p: Path, f: io.TextIOWrapper, text_col: str, label_col: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    n = 0
    while True:
        line = f.readline(MAX_FIELD_CHARS + 1)
        if not line:
            return rows
        n += 1
        where = f"{p.name} line {n}"
        if len(line) > MAX_FIELD_CHARS and not line.endswith("\n"):
            while line and not line.endswith("\n"):  # skip the rest of an over-long line without holding it
                line = f.readline(MAX_FIELD_CHARS)
            rows.append((where, "", ""))
            continue
        if not line.strip():
            continue
        _check_rows(p, len(rows))
        rows.append((where, *_json_row(line, text_col, label_col)))


def _json_row(line: str, text_col: str, label_col: str) -> tuple[str, str]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply for the parser
        return "", ""
    if not isinstance(obj, dict):
        return "", ""
    t, lab = obj.get(text_col), obj.get(label_col)
    label = str(lab) if isinstance(lab, str) or (isinstance(lab, int) and not isinstance(lab, bool)) else ""
    return (t[:MAX_TEXT_CHARS] if isinstance(t, str) else ""), label[:1000]


def _read_folder(p: Path) -> list[tuple[str, str, str]]:
    rows = []
    subs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not subs:
        raise DataError(f"{str(p)!r} has no class sub-folders. Put each class's .txt files in a folder named after it.")
    root = p.resolve()
    for d in subs:
        for f in sorted(d.iterdir())[:MAX_FILES]:
            if f.suffix.lower() != ".txt" or not f.is_file():
                continue
            if root not in f.resolve().parents:  # a link out of the data folder is never followed
                rows.append((f"{d.name}/{f.name}", "", ""))
                continue
            try:
                with open_regular(f, str(f), DataError) as fh:
                    raw = fh.read(MAX_TEXT_CHARS * 4)
                    if len(raw) == MAX_TEXT_CHARS * 4:  # cut: a character split at the cut is not a decoding error
                        raw = raw[:len(raw) - next((k for k in range(4) if raw[len(raw) - 1 - k] & 0xC0 != 0x80), 0) - 1]
                    body = raw.decode("utf-8", errors="surrogateescape")
            except (OSError, DataError):
                body = ""  # unreadable: counted as unusable below
            rows.append((f"{d.name}/{f.name}", body, d.name))
    return rows
