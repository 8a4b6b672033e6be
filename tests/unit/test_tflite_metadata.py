"""Standard TFLite metadata: what edgetl writes reads back, and absurd or broken metadata is refused in one line."""
from __future__ import annotations

import math

import pytest

from edgetl.errors import ModelFileError
from edgetl.formats.tflite.metadata import METADATA_NAME, ModelCard, attach_files, build
from edgetl.runtime.tflite_file import read_metadata
from edgetl.runtime.tflite_metadata import read_standard

LABELS = ["cat", "dog", "emu"]
CARD = ModelCard("pets image classifier", "Classifies images into 3 classes.", "abc123", "me", "Apache-2.0")


def _tflite_with(entries: dict[str, bytes]) -> bytes:
    """A minimal TFLite flatbuffer (no ops): buffers and metadata only, which is all the readers look at."""
    import flatbuffers

    b = flatbuffers.Builder(256)
    bufs, metas = [], []
    for data in [b""] + list(entries.values()):
        vec = b.CreateByteVector(data) if data else None
        b.StartObject(1)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        bufs.append(b.EndObject())
    for i, name in enumerate(entries, start=1):
        s = b.CreateString(name)
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, s, 0)
        b.PrependUint32Slot(1, i, 0)
        metas.append(b.EndObject())

    def vec(offs: list[int]) -> int:
        b.StartVector(4, len(offs), 4)
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    bv, mv = vec(bufs), vec(metas)
    b.StartObject(7)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(4, bv, 0)
    b.PrependUOffsetTRelativeSlot(6, mv, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


def _model(mean=(0.0,), std=(1.0,), labels=LABELS, files: dict[str, bytes] | None = None) -> bytes:
    contract = {"kind": "image", "labels": labels,
                "input": {"shape": [1, 96, 96, 3], "mean": list(mean), "std": list(std), "range": [0, 255]}}
    meta, default_files = build(contract, CARD)
    return attach_files(_tflite_with({METADATA_NAME: meta}), default_files if files is None else files)


def test_written_metadata_reads_back():
    got = read_standard(_model(mean=(127.5,), std=(127.5,)), "m.tflite")
    assert got.name == CARD.name
    assert got.mean == (127.5, 127.5, 127.5) and got.std == (127.5, 127.5, 127.5)
    assert got.labels == tuple(LABELS) and got.labels_file == "labels.txt"


def test_metadata_flatbuffer_has_the_schema_identifier():
    meta, files = build({"kind": "image", "labels": LABELS, "input": {"shape": [1, 8, 8, 3]}}, CARD)
    assert meta[4:8] == b"M001"
    assert files["labels.txt"].decode().split() == LABELS


def test_a_file_without_standard_metadata_has_none():
    assert read_standard(_tflite_with({"other": b"x"}), "m.tflite") is None


@pytest.mark.parametrize("mean,std,words", [
    ((math.nan,), (1.0,), "not all finite"),
    ((0.0,), (0.0,), "std"),
    ((0.0,), (1e9,), "std"),
    ((0.0,), (-1.0,), "std"),
    ((300.0,), (1.0,), "outside the pixel range"),
    ((0.0, 0.0), (1.0,), "1 or 3 each"),
])
def test_absurd_normalization_is_refused_in_one_line(mean, std, words):
    with pytest.raises(ModelFileError) as e:
        read_standard(_model(mean=mean, std=std), "crafted.tflite")
    msg = str(e.value)
    assert "crafted.tflite" in msg and words in msg and "\n" not in msg


def test_missing_label_file_is_named():
    with pytest.raises(ModelFileError, match="does not hold"):
        read_standard(_model(files={"other.txt": b"x\n"}), "m.tflite")


def test_no_zip_at_all_is_one_line():
    contract = {"kind": "image", "labels": LABELS, "input": {"shape": [1, 8, 8, 3]}}
    meta, _ = build(contract, CARD)
    with pytest.raises(ModelFileError, match="unreadable"):
        read_standard(_tflite_with({METADATA_NAME: meta}), "m.tflite")


@pytest.mark.parametrize("cut", [8, 20, 40, 64])
def test_truncated_metadata_is_one_line(cut):
    meta, _ = build({"kind": "image", "labels": LABELS, "input": {"shape": [1, 8, 8, 3]}}, CARD)
    with pytest.raises(ModelFileError) as e:
        read_standard(_tflite_with({METADATA_NAME: meta[:cut]}), "m.tflite")
    assert "\n" not in str(e.value)


def test_garbage_metadata_never_hangs_or_escapes():
    import random

    rng = random.Random(0)
    meta, _ = build({"kind": "image", "labels": LABELS, "input": {"shape": [1, 8, 8, 3]}}, CARD)
    for _ in range(300):
        b = bytearray(meta)
        for _ in range(4):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            read_standard(attach_files(_tflite_with({METADATA_NAME: bytes(b)}), {"labels.txt": b"a\nb\n"}), "m")
        except ModelFileError:
            pass


def test_huge_label_file_is_refused():
    from edgetl.runtime import tflite_metadata as tm

    big = b"x\n" * (tm.MAX_LABELS_BYTES // 2 + 10)
    with pytest.raises(ModelFileError, match="bytes"):
        read_standard(_model(files={"labels.txt": big}), "m.tflite")


def test_contract_entry_survives_beside_it():
    data = _tflite_with({"edgetl_contract": b"{}", METADATA_NAME: build(
        {"kind": "image", "labels": LABELS, "input": {"shape": [1, 8, 8, 3]}}, CARD)[0]})
    assert set(read_metadata(data)) == {"edgetl_contract", METADATA_NAME}
