"""A bounds-checked reader of the parts of an ONNX file that decide whether it is safe to load.

ONNX Runtime resolves a tensor stored as *external data* (``location: .ssh/id_rsa``) against the folder
of the model file, or the current folder when it is handed bytes, and hands the file's bytes back as
weights. This reader walks every tensor of the model (initializers, sparse initializers, Constant and
other node attributes, If/Loop/Scan subgraphs, functions, training graphs) with a protobuf wire-format
parser that needs no ``onnx`` package, and :func:`check_onnx` allows external data only in a plain
file inside the model's own folder: no absolute path, no ``..``, no link that leads out.

It also reads ``metadata_props`` (where edgetl embeds its contract) without starting a session.
Stdlib only, so that the runtime folder can be vendored into a device app.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelFileError
from .limits import MAX_MODEL_BYTES

_MAX_DEPTH = 48

# field numbers from onnx.proto (ONNX IR version 10)
_MODEL_GRAPH, _MODEL_METADATA, _MODEL_TRAINING, _MODEL_FUNCTIONS = 7, 14, 20, 25
_TRAINING_GRAPHS = (1, 2)  # initialization, algorithm
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_INPUT, _GRAPH_SPARSE_INIT = 1, 5, 11, 15
_NODE_ATTR = 5
_FUNCTION_NODE = 7
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_NAME, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 8, 13, 14


class _Bad(Exception):
    pass


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Bad(f"truncated or overlong varint at byte {pos}")
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes, start: int, end: int):  # type: ignore[no-untyped-def]
    """Yield (field number, wire type, value) of one message; value is an int or a (start, end) span."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise _Bad(f"field number 0 at byte {pos}")
        if wt == 0:
            val, pos = _varint(buf, pos, end)
            yield num, wt, val
        elif wt == 1:
            if pos + 8 > end:
                raise _Bad("truncated fixed64")
            pos += 8
        elif wt == 5:
            if pos + 4 > end:
                raise _Bad("truncated fixed32")
            pos += 4
        elif wt == 2:
            n, pos = _varint(buf, pos, end)
            if pos + n > end:
                raise _Bad(f"a field of {n} bytes at byte {pos} runs past its message")
            yield num, wt, (pos, pos + n)
            pos += n
        else:
            raise _Bad(f"unsupported wire type {wt} at byte {pos}")


@dataclass
class OnnxFacts:
    """What :func:`read_onnx` found: external-data locations (with the tensor names) and metadata."""

    external: list[tuple[str, str]] = field(default_factory=list)  # (tensor name, location)
    metadata: dict[str, str] = field(default_factory=dict)


def _text(buf: bytes, span: tuple[int, int]) -> str:
    return buf[span[0]:span[1]].decode("utf-8", errors="replace")


def _tensor(buf: bytes, span: tuple[int, int], facts: OnnxFacts) -> None:
    name, location, external = "", None, False
    for num, wt, val in _fields(buf, *span):
        if num == _TENSOR_NAME and wt == 2:
            name = _text(buf, val)
        elif num == _TENSOR_LOCATION and wt == 0:
            external = external or val == 1
        elif num == _TENSOR_EXTERNAL and wt == 2:
            external = True
            key = value = None
            for n2, w2, v2 in _fields(buf, *val):
                if w2 == 2 and n2 == 1:
                    key = _text(buf, v2)
                elif w2 == 2 and n2 == 2:
                    value = _text(buf, v2)
            if key == "location":
                location = value
    if external:
        facts.external.append((name, location if location is not None else ""))


def _sparse(buf: bytes, span: tuple[int, int], facts: OnnxFacts) -> None:
    for num, wt, val in _fields(buf, *span):
        if wt == 2 and num in (_SPARSE_VALUES, _SPARSE_INDICES):
            _tensor(buf, val, facts)


def _node(buf: bytes, span: tuple[int, int], facts: OnnxFacts, depth: int) -> None:
    for num, wt, val in _fields(buf, *span):
        if num != _NODE_ATTR or wt != 2:
            continue
        for n2, w2, v2 in _fields(buf, *val):
            if w2 != 2:
                continue
            if n2 in (_ATTR_T, _ATTR_TENSORS):
                _tensor(buf, v2, facts)
            elif n2 in (_ATTR_G, _ATTR_GRAPHS):
                _graph(buf, v2, facts, depth + 1)
            elif n2 in (_ATTR_SPARSE, _ATTR_SPARSES):
                _sparse(buf, v2, facts)


def _graph(buf: bytes, span: tuple[int, int], facts: OnnxFacts, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _Bad(f"subgraphs nested deeper than {_MAX_DEPTH}")
    for num, wt, val in _fields(buf, *span):
        if wt != 2:
            continue
        if num == _GRAPH_NODE:
            _node(buf, val, facts, depth)
        elif num == _GRAPH_INIT:
            _tensor(buf, val, facts)
        elif num == _GRAPH_SPARSE_INIT:
            _sparse(buf, val, facts)


def read_onnx(data: bytes, name: str = "model") -> OnnxFacts:
    """External-data locations and metadata of an ONNX model; ModelFileError if it is not one."""
    facts = OnnxFacts()
    buf = bytes(data)
    saw_graph = False
    try:
        for num, wt, val in _fields(buf, 0, len(buf)):
            if wt != 2:
                continue
            if num == _MODEL_GRAPH:
                saw_graph = True
                _graph(buf, val, facts, 0)
            elif num == _MODEL_FUNCTIONS:
                for n2, w2, v2 in _fields(buf, *val):
                    if n2 == _FUNCTION_NODE and w2 == 2:
                        _node(buf, v2, facts, 1)
            elif num == _MODEL_TRAINING:
                for n2, w2, v2 in _fields(buf, *val):
                    if n2 in _TRAINING_GRAPHS and w2 == 2:
                        _graph(buf, v2, facts, 1)
            elif num == _MODEL_METADATA:
                key = value = ""
                for n2, w2, v2 in _fields(buf, *val):
                    if w2 == 2 and n2 == 1:
                        key = _text(buf, v2)
                    elif w2 == 2 and n2 == 2:
                        value = _text(buf, v2)
                facts.metadata[key] = value
    except _Bad as exc:
        raise ModelFileError(f"{name}: not a valid ONNX model ({exc}). Export or copy the file again.") from None
    if not saw_graph:
        raise ModelFileError(f"{name}: not an ONNX model (no graph found). Pass a .onnx file written by an ONNX "
                             "exporter.")
    return facts


def check_external_data(facts: OnnxFacts, model_path: str | Path, *, allow: bool = True) -> list[Path]:
    """The external-data files of a model, each proven to be a plain file inside the model's own folder.

    Raises ModelFileError for a location that is empty, absolute, holds ``..`` or a backslash, is a link,
    leads out of the folder or does not exist, naming the tensor and the location.
    """
    if not facts.external:
        return []
    p = Path(model_path)
    if not allow:
        name, loc = facts.external[0]
        raise ModelFileError(f"{p}: tensor {name!r} is stored as external data ({loc!r}); edgetl runs this model "
                             "only from a file path. Merge the data into the model (onnx.save(model, path, "
                             "save_as_external_data=False)).")
    folder = p.resolve().parent
    files: list[Path] = []
    total = 0
    for name, loc in facts.external:
        why = _bad_location(loc)
        target = folder / loc
        if why is None:
            real = target.resolve()
            if real.parent != folder and folder not in real.parents:
                why = "it leads out of the model's folder"
            elif any(part.is_symlink() for part in _chain(folder, loc)):
                why = "it goes through a symbolic link"
            elif not real.is_file():
                why = "no such file next to the model"
        if why is not None:
            raise ModelFileError(f"{p}: tensor {name!r} is stored as external data at {loc!r}, which edgetl refuses: "
                                 f"{why}. External data must be a plain file in the model's own folder "
                                 "(a relative name without '..'); or merge it into the model file.")
        total += target.stat().st_size
        files.append(target)
    if total > MAX_MODEL_BYTES.value:
        raise ModelFileError(MAX_MODEL_BYTES.exceeded(total, f"{p} with its external data"))
    return files


def _bad_location(loc: str) -> str | None:
    if not loc:
        return "the location is empty"
    if "\x00" in loc or "\\" in loc or ":" in loc:
        return "the location holds a NUL, a backslash or a colon"
    if os.path.isabs(loc) or loc.startswith("~"):
        return "the location is an absolute path"
    if any(part == ".." for part in loc.split("/")):
        return "the location holds '..'"
    return None


def _chain(folder: Path, loc: str) -> list[Path]:
    out, cur = [], folder
    for part in [x for x in loc.split("/") if x not in ("", ".")]:
        cur = cur / part
        out.append(cur)
    return out
