"""metrics.json + split.json have one writer and one reader (edgetl/train_record.py)."""
import json
from pathlib import Path

import pytest

from edgetl.train_record import Split, TrainRecord, read, read_split


def _record(kind: str) -> TrainRecord:
    items = {"train": ("a", "b"), "val": ("c",), "test": ("d",)}
    labels = {"train": (0, 1), "val": (1,), "test": (0,)}
    rows = {"train": (3, 1), "val": (0,), "test": (2,)} if kind == "text" else {}
    return TrainRecord(kind, {"top1": 1.0, "images": 1}, {"top1": 0.0, "images": 1}, {"strategy": "fine_tune"}, {},
                       {"total_s": 1.234}, {"root": "/data", "classes": ["x", "y"], "skipped": []},
                       {"backbone": "b", "input_size": 16}, {"keras": "3"}, Split(kind, "/data", items, labels, rows),
                       {"sequence": {"length": 16}} if kind == "text" else {})


@pytest.mark.parametrize("kind", ["image", "text"])
def test_what_is_written_reads_back_the_same(kind: str, tmp_path: Path) -> None:
    rec = _record(kind)
    rec.write(tmp_path)
    back = read(tmp_path)
    assert back.split == rec.split and back.kind == kind and back.classes == ["x", "y"] and back.input_size == 16
    assert back.timings_s == {"total_s": 1.23} and back.extra == rec.extra and back.test == rec.test
    on_disk = json.loads((tmp_path / "split.json").read_text())
    if kind == "text":  # the texts themselves and their rows in the data file
        assert on_disk["val_texts"] == ["c"] and on_disk["train"] == [3, 1]
    else:
        assert on_disk["val"] == ["c"] and on_disk["val_labels"] == [1]
    assert json.loads((tmp_path / "metrics.json").read_text())["kind"] == kind  # image runs name their kind too


def test_a_run_from_before_the_record_still_reads(tmp_path: Path) -> None:
    """Image runs once wrote no kind and, earlier still, no train_labels: they read, labels unknown (-1)."""
    (tmp_path / "metrics.json").write_text(json.dumps({"validation": {"top1": 0.5}, "data": {"classes": ["a"]},
                                                       "model": {"input_size": 8}}))
    (tmp_path / "split.json").write_text(json.dumps({"root": "r", "train": ["p"], "val": ["q"], "val_labels": [0]}))
    rec = read(tmp_path)
    assert rec.kind == "image" and rec.split.part("train") == (("p",), (-1,)) and rec.split.part("test") == ((), ())


@pytest.mark.parametrize("split", [[1, 2], {"kind": "audio"}, {"val": ["a", "b"], "val_labels": [0]},
                                   {"val": [1], "val_labels": [0]}, {"kind": "text", "val_texts": ["a"],
                                                                     "val_labels": [True]}])
def test_a_split_file_edgetl_did_not_write_gives_no_items(split: object, tmp_path: Path) -> None:
    p = tmp_path / "split.json"
    p.write_text(json.dumps(split))
    assert read_split(p) is None
    with pytest.raises(ValueError, match="split.json"):
        Split.from_json(split, str(p))


def test_a_foreign_metrics_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("[]")
    with pytest.raises(ValueError, match="metrics.json is not the metrics of an edgetl train stage"):
        read(tmp_path)
