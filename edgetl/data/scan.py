"""Scan a class-folder dataset, check it, and split it deterministically (no TensorFlow)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass
class Dataset:
    """Files and labels of a class-folder dataset, plus what was skipped and why."""

    root: Path
    classes: list[str]
    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)

    def counts(self) -> dict[str, int]:
        c = {name: 0 for name in self.classes}
        for s in self.samples:
            c[self.classes[s.label]] += 1
        return c

    def content_hash(self) -> str:
        """sha256 over class names, relative paths and file bytes: moving the folder keeps the hash.

        Files are read in blocks (a multi-GB file in a class folder never sits in memory); one over the image
        file limit is hashed by its size alone, since decoding refuses it anyway.
        """
        from ..runtime.limits import MAX_IMAGE_FILE_BYTES

        h = hashlib.sha256()
        h.update("\0".join(self.classes).encode())
        cap = MAX_IMAGE_FILE_BYTES.value
        for s in self.samples:
            h.update(str(s.path.relative_to(self.root)).encode("utf-8", "surrogateescape"))
            try:
                size = s.path.stat().st_size
                if size > cap:
                    h.update(f"\0over-limit:{size}\0".encode())
                    continue
                with s.path.open("rb") as f:
                    while block := f.read(1 << 20):
                        h.update(block)
            except OSError as exc:  # vanished or unreadable: decoding will skip it with the reason
                h.update(f"\0unreadable:{exc.errno}\0".encode())
        return h.hexdigest()


def scan(root: str | Path, *, classes: list[str] | None = None) -> Dataset:
    """Find images in ``root/<class>/``. Raise DataError when the layout cannot make a classifier.

    Args:
        root: The dataset folder.
        classes: Expected class names (for a validation folder that must match the training classes).
    """
    r = Path(root).expanduser()
    if not r.exists():
        raise DataError(f"Dataset folder {str(r)!r} does not exist. Point train.data (--data for edgetl train) at a "
                        "folder that holds one sub-folder of images per class.")
    if not r.is_dir():
        raise DataError(f"Dataset path {str(r)!r} is a file, not a folder of class sub-folders.")
    folders = sorted(p for p in r.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        loose = [p.name for p in r.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS][:3]
        extra = f" It holds images directly ({', '.join(loose)}...): move them into one folder per class." if loose else ""
        raise DataError(f"Dataset folder {str(r)!r} has no class sub-folders.{extra}")
    names = [p.name for p in folders]
    for n in names:
        why = label_problem(n)
        if why:
            raise DataError(f"Class folder {str(r / n)!r}: its name {why}, so it cannot be one label per line in "
                            "labels.txt nor be shown safely. Rename the folder (letters, digits, spaces, - and _ "
                            "work everywhere).")
    if classes is not None:
        missing = sorted(set(classes) - set(names))
        unexpected = sorted(set(names) - set(classes))
        if missing or unexpected:
            raise DataError(f"Validation folder {str(r)!r} has other classes than the training data: "
                            f"missing {missing}, unexpected {unexpected}. Use the same class folder names.")
        names = list(classes)
    samples: list[Sample] = []
    empty: list[str] = []
    for label, name in enumerate(names):
        files = sorted(p for p in (r / name).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                       and not p.name.startswith("."))
        if not files:
            empty.append(name)
        samples.extend(Sample(p, label) for p in files)
    if not samples:
        raise DataError(f"No images found under {str(r)!r} (looked for {', '.join(IMAGE_EXTENSIONS)} in "
                        f"{len(names)} class folders: {', '.join(names[:10])}).")
    if empty:
        raise DataError(f"Class folder(s) {', '.join(repr(str(r / e)) for e in empty)} hold no images "
                        f"({', '.join(IMAGE_EXTENSIONS)}). Add images or remove the folder.")
    if len(names) < 2 and classes is None:
        raise DataError(f"Dataset {str(r)!r} has only one class ({names[0]!r}, {len(samples)} images); a classifier "
                        "needs at least two class folders.")
    return Dataset(root=r, classes=names, samples=samples)


# Bidirectional-text overrides reorder what a terminal shows; they never belong in a class name.
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


def label_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class label (line breaks, control characters, ...), or None."""
    import unicodedata

    if not name.strip():
        return "is blank"
    if name != name.strip():
        return "starts or ends with white space"
    for ch in name:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch in _BIDI or cat == "Cs":
            return f"holds the control or line-separator character U+{ord(ch):04X}"
    return None


def split(ds: Dataset, val_split: float, seed: int, test_split: float = 0.0
          ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded train/validation(/test) indices: the same on every machine for the same files.

    With ``test_split`` > 0 a third, held-out set is taken from each class after the validation images and
    returned last; it is never used for training, early stopping or any choice, so numbers on it are
    unbiased. With ``test_split`` 0 the train/validation split is exactly the two-way one.
    """
    rng = np.random.default_rng(seed)
    labels = ds.labels
    train, val, test = [], [], []
    need = 3 if test_split > 0 else 2
    for c in range(len(ds.classes)):
        idx = np.flatnonzero(labels == c)
        if len(idx) < need:
            raise DataError(f"Class {ds.classes[c]!r} has {len(idx)} usable image(s); a train/validation"
                            f"{'/test' if need == 3 else ''} split needs at least {need} per class (or pass a "
                            "separate validation folder).")
        idx = idx[rng.permutation(len(idx))]
        n_val = min(max(1, int(round(val_split * len(idx)))), len(idx) - (need - 1))
        n_test = min(max(1, int(round(test_split * len(idx)))), len(idx) - n_val - 1) if need == 3 else 0
        val.extend(idx[:n_val])
        test.extend(idx[n_val:n_val + n_test])
        train.extend(idx[n_val + n_test:])
    parts = (np.sort(np.array(train)), np.sort(np.array(val)))
    return (*parts, np.sort(np.array(test, dtype=np.int64))) if need == 3 else parts
