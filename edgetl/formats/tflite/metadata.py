"""Standard TFLite Model Metadata (the published ``metadata_schema.fbs``, identifier ``M001``) for phone clients.

MediaPipe Tasks and the LiteRT Task Library read it from the file: image properties, the normalization that
turns 0..255 pixels into the model's input, and the class names as an associated ``TENSOR_AXIS_LABELS`` file.
Written here with ``flatbuffers`` from the schema (the writer in mediapipe 1.2.3 does not import), and packed
as Model Maker did: a ``TFLITE_METADATA`` entry in the model, the associated files in a zip appended to it.
The edgetl contract stays beside it (entry ``edgetl_contract`` and the sidecar); ``runtime/tflite_metadata.py``
reads both back.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from ...runtime.bert_inputs import role_of

METADATA_NAME = "TFLITE_METADATA"
IDENTIFIER = b"M001"
LABELS_FILE = "labels.txt"
VOCAB_FILE = "vocab.txt"
# union type codes and enums of the schema
_IMAGE_PROPERTIES, _FEATURE_PROPERTIES = 2, 1
_NORMALIZATION, _BERT_TOKENIZER = 1, 4
_RGB, _TENSOR_AXIS_LABELS, _VOCABULARY = 1, 2, 5


@dataclass(frozen=True)
class ModelCard:
    """What the standard metadata says of a model besides its tensors."""

    name: str
    description: str
    version: str
    author: str
    license: str


def card_of(contract: dict[str, Any]) -> ModelCard:
    """The card the export stage put in the contract (``card``), with what the contract itself says."""
    c = contract.get("card") or {}
    backbone = (contract.get("backbone") or {}).get("name", "model")
    labels = contract.get("labels") or []
    kind = contract.get("kind", "image")
    return ModelCard(name=str(c.get("name") or f"{backbone} {kind} classifier"),
                     description=str(c.get("description") or f"Classifies {kind}s into {len(labels)} classes."),
                     version=str(c.get("version") or "1"), author=str(c.get("author") or "unknown"),
                     license=str(c.get("license") or ""))


def build(contract: dict[str, Any], card: ModelCard, inputs: list[str] | None = None) -> tuple[bytes, dict[str, bytes]]:
    """The metadata flatbuffer for an edgetl contract and the associated files it names; ``inputs``: the model's
    input tensor names in order (a BERT-form text model has three: ids, mask, segment_ids)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    labels = list(contract.get("labels") or [])
    files = {LABELS_FILE: ("\n".join(labels) + "\n").encode()}
    from ...modality import get as get_modality

    text = get_modality(contract.get("kind")).bert_form  # BERT's three inputs, as MediaPipe's text task reads
    label_file = _associated_file(b, LABELS_FILE, "Class names, one per line; line i names output i.",
                                  _TENSOR_AXIS_LABELS)
    out_tensor = _tensor(b, "probability", "Probabilities of the classes (softmax inside the model).",
                         content=_content(b, _FEATURE_PROPERTIES, _empty(b)), stats=(1.0, 0.0),
                         files=[label_file])
    if text:
        tensors, units = _text_inputs(b, contract, files, inputs or ["ids"])
    else:
        tensors, units = [_image_input(b, contract)], []
    sub = _table(b, [(2, "offset", _vector(b, tensors)), (3, "offset", _vector(b, [out_tensor])),
                     *([(5, "offset", _vector(b, units))] if units else [])])
    fields = [(0, "offset", b.CreateString(card.name)), (1, "offset", b.CreateString(card.description)),
              (2, "offset", b.CreateString(card.version)), (3, "offset", _vector(b, [sub])),
              (4, "offset", b.CreateString(card.author)),
              *([(5, "offset", b.CreateString(card.license))] if card.license else []),
              (7, "offset", b.CreateString("1.1.0" if text else "1.0.0"))]
    b.Finish(_table(b, fields), file_identifier=IDENTIFIER)
    return bytes(b.Output()), files


def attach_files(model: bytes, files: dict[str, bytes]) -> bytes:
    """``model`` with ``files`` in a zip appended (stored, not compressed: clients read them in place)."""
    buf = io.BytesIO(model)
    buf.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as z:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: the bytes hash the same
            z.writestr(info, data)
    return buf.getvalue()


def _image_input(b: Any, contract: dict[str, Any]) -> int:
    inp = contract["input"]
    mean, std = _three(inp.get("mean", 0.0)), _three(inp.get("std", 1.0))
    norm = _table(b, [(0, "offset", _floats(b, mean)), (1, "offset", _floats(b, std))])
    unit = _table(b, [(0, "uint8", _NORMALIZATION), (1, "offset", norm)])
    size = _table(b, [(0, "uint32", int(inp["shape"][2])), (1, "uint32", int(inp["shape"][1]))])
    props = _table(b, [(0, "int8", _RGB), (1, "offset", size)])
    lo, hi = (inp.get("range") or [0, 255])[:2]
    return _tensor(b, "image", f"RGB image, {inp['shape'][2]}x{inp['shape'][1]}; {inp.get('normalization', '')}",
                   content=_content(b, _IMAGE_PROPERTIES, props), stats=(float(hi), float(lo)), units=[unit])


BERT_INPUTS = {"ids": "Token ids of the text (WordPiece), [CLS] first, padded with 0.",
               "mask": "1 for each token of the text (with [CLS] and [SEP]), 0 for padding.",
               "segment_ids": "0 for every token (one sentence)."}


def _text_inputs(b: Any, contract: dict[str, Any], files: dict[str, bytes],
                 inputs: list[str]) -> tuple[list[int], list[int]]:
    """One tensor entry per model input, in the model's order, named as MediaPipe's BERT preprocessor looks
    them up; the WordPiece vocabulary as the subgraph's BertTokenizer process unit."""
    tok = contract["input"].get("tokenizer") or {}
    vocab = tok.get("vocab") or []
    units = []
    if vocab:
        files[VOCAB_FILE] = ("\n".join(vocab) + "\n").encode()
        vf = _associated_file(b, VOCAB_FILE, "WordPiece vocabulary of the tokenizer.", _VOCABULARY)
        bert = _table(b, [(0, "offset", _vector(b, [vf]))])
        units.append(_table(b, [(0, "uint8", _BERT_TOKENIZER), (1, "offset", bert)]))
    tensors = []
    for name in inputs:
        role = role_of(name) or "ids"
        tensors.append(_tensor(b, role, BERT_INPUTS[role], content=_content(b, _FEATURE_PROPERTIES, _empty(b))))
    return tensors, units


def _tensor(b: Any, name: str, description: str, *, content: int, stats: tuple[float, float] | None = None,
            units: list[int] | None = None, files: list[int] | None = None) -> int:
    fields = [(0, "offset", b.CreateString(name)), (1, "offset", b.CreateString(description)), (3, "offset", content)]
    if units:
        fields.append((4, "offset", _vector(b, units)))
    if stats is not None:
        st = _table(b, [(0, "offset", _floats(b, [stats[0]])), (1, "offset", _floats(b, [stats[1]]))])
        fields.append((5, "offset", st))
    if files:
        fields.append((6, "offset", _vector(b, files)))
    return _table(b, fields)


def _content(b: Any, kind: int, props: int) -> int:
    return _table(b, [(0, "uint8", kind), (1, "offset", props)])


def _associated_file(b: Any, name: str, description: str, kind: int) -> int:
    return _table(b, [(0, "offset", b.CreateString(name)), (1, "offset", b.CreateString(description)),
                      (2, "int8", kind)])


def _empty(b: Any) -> int:
    b.StartObject(0)
    return b.EndObject()


def _table(b: Any, fields: list[tuple[int, str, Any]]) -> int:
    """One table from (slot, kind, value); every child offset must already be built."""
    b.StartObject(max(slot for slot, _, _ in fields) + 1)
    add = {"offset": b.PrependUOffsetTRelativeSlot, "uint8": b.PrependUint8Slot, "int8": b.PrependInt8Slot,
           "uint32": b.PrependUint32Slot}
    for slot, kind, value in fields:
        add[kind](slot, value, 0)
    return b.EndObject()


def _vector(b: Any, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _floats(b: Any, values: list[float]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _three(v: Any) -> list[float]:
    vals = [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    return vals * 3 if len(vals) == 1 else vals
