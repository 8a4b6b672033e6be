"""The one schema of a training run's ``metrics.json`` and ``split.json``: one writer, one reader (stdlib only).

Both train stages (images and texts) build a :class:`TrainRecord` and call :meth:`TrainRecord.write`; export,
bench, the API, the CLI and the run page call :func:`read` (or :func:`read_split`, bounded, for a split file
that came with a run folder from elsewhere) and read its fields. On disk nothing moves: ``metrics.json`` keeps
its keys (now with ``kind`` for image runs too) and ``split.json`` keeps image paths or, for a text run, the row
indices beside the texts themselves, so runs written before this module still read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .modality import MODALITIES
from .modality import get as get_modality

SCHEMA = 1
KINDS = tuple(MODALITIES)  # image, text
PARTS = ("train", "val", "test")
# where split.json keeps each kind's items: (key of a part's items, whether a part also lists rows of a data file)
_ITEMS = {"image": ("{}", False), "text": ("{}_texts", True)}


@dataclass(frozen=True)
class Split:
    """Which items trained, validated and tested a run, with their labels.

    Attributes:
        kind: ``image`` (items are file paths) or ``text`` (items are the texts).
        root: The data folder or file the items came from.
        items: part -> the items of ``train``, ``val``, ``test``.
        labels: part -> the class index of each item.
        rows: text runs: part -> the row of each text in the data file (empty for images).
    """

    kind: str
    root: str
    items: dict[str, tuple[str, ...]]
    labels: dict[str, tuple[int, ...]]
    rows: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def part(self, name: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """(items, labels) of ``train``, ``val`` or ``test``."""
        return self.items.get(name, ()), self.labels.get(name, ())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"root": self.root, "kind": self.kind}
        for p in PARTS:
            key, has_rows = _ITEMS[self.kind]
            if has_rows:
                out[p] = list(self.rows.get(p, ()))
            out[key.format(p)] = list(self.items.get(p, ()))
            out[f"{p}_labels"] = list(self.labels.get(p, ()))
        return out

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Split":
        """A split from its JSON; a file that is not one edgetl wrote raises ValueError naming ``where``."""
        if not isinstance(d, dict):
            raise ValueError(f"{where} is not a JSON object")
        kind = d.get("kind", "image")
        if kind not in KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        items, labels, rows = {}, {}, {}
        for p in PARTS:
            key, has_rows = _ITEMS[kind]
            got = d.get(key.format(p), [])
            lab = d.get(f"{p}_labels", [])
            if p == "train" and not lab and got:  # image runs before train_labels was written
                lab = [-1] * len(got)
            if not isinstance(got, list) or not all(isinstance(i, str) for i in got):
                raise ValueError(f"{where}: {key.format(p)} is not a list of {'texts' if has_rows else 'paths'}")
            if not isinstance(lab, list) or len(lab) != len(got) or not all(type(v) is int and v >= -1 for v in lab):
                raise ValueError(f"{where}: {p}_labels does not give one class index per item")
            items[p], labels[p] = tuple(got), tuple(lab)
            if has_rows:
                r = d.get(p, [])
                rows[p] = tuple(r) if isinstance(r, list) and all(type(v) is int for v in r) else ()
        return cls(kind, str(d.get("root", "")), items, labels, rows)


@dataclass(frozen=True)
class TrainRecord:
    """What a train stage hands to every later room: its metrics and its split.

    Attributes:
        kind: ``image`` or ``text``.
        validation, test: ``classification_metrics`` of each split (``test`` None without a test split).
        strategy: The strategy used and requested, and the feature-extraction validation top-1.
        fine_tune: What fine-tuning did (empty when it did not run).
        timings_s: Seconds per phase.
        data: Classes, counts, split sizes, skipped files, where validation came from.
        model: Backbone, input size, parameters, weights, the model input.
        versions: Library versions the stage ran with.
        extra: What one modality adds (``sequence`` for text, ``ray`` for image features on a cluster).
        split: The items of each part.
    """

    kind: str
    validation: dict[str, Any]
    test: dict[str, Any] | None
    strategy: dict[str, Any]
    fine_tune: dict[str, Any]
    timings_s: dict[str, float]
    data: dict[str, Any]
    model: dict[str, Any]
    versions: dict[str, str]
    split: Split
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.data["classes"]]

    @property
    def input_size(self) -> int:
        """Pixels per side, or tokens for a text model."""
        return int(self.model["input_size"])

    @property
    def items_word(self) -> str:
        return get_modality(self.kind).unit

    def metrics_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": self.kind, "validation": self.validation,
                **({"test": self.test} if self.test else {}), "strategy": self.strategy, "fine_tune": self.fine_tune,
                "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()}, **self.extra, "data": self.data,
                "model": self.model, "versions": self.versions}

    def write(self, out: Path) -> None:
        """``out/metrics.json`` and ``out/split.json``, each written atomically."""
        from .artifacts import atomic_write_json

        atomic_write_json(out / "metrics.json", self.metrics_json())
        atomic_write_json(out / "split.json", self.split.to_json())


EXTRA_KEYS = ("sequence", "ray")
KNOWN = {"schema", "kind", "validation", "test", "strategy", "fine_tune", "timings_s", "data", "model", "versions",
         *EXTRA_KEYS}


def read(train_dir: Path) -> TrainRecord:
    """The record of the train stage in ``train_dir``; a missing or foreign file raises ValueError naming it."""
    from .artifacts import read_json

    m = read_json(train_dir / "metrics.json")
    where = str(train_dir / "metrics.json")
    if not isinstance(m, dict) or not isinstance(m.get("validation"), dict) or not isinstance(m.get("data"), dict) \
            or not isinstance(m.get("model"), dict):
        raise ValueError(f"{where} is not the metrics of an edgetl train stage")
    kind = m.get("kind") or (m["model"].get("kind") or "image")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    split = Split.from_json(read_json(train_dir / "split.json"), str(train_dir / "split.json"))
    return TrainRecord(kind, m["validation"], m.get("test"), m.get("strategy") or {}, m.get("fine_tune") or {},
                       m.get("timings_s") or {}, m["data"], m["model"], m.get("versions") or {}, split,
                       {k: m[k] for k in EXTRA_KEYS if k in m})


def read_split(path: Path) -> Split | None:
    """A split file from a run folder that may have come from elsewhere: bounded, checked; None when it is
    missing or not one edgetl wrote (the caller then has no items, rather than wrong ones)."""
    from .errors import ConfigError
    from .runtime.limits import MAX_CONTRACT_BYTES, read_bounded

    try:
        return Split.from_json(json.loads(read_bounded(path, MAX_CONTRACT_BYTES, None, ConfigError)), str(path))
    except (OSError, ValueError, RecursionError, ConfigError):
        return None
