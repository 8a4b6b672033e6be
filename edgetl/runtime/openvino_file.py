"""A bounds-checked reader of an OpenVINO IR (``model.xml`` and its weights ``model.bin``) before OpenVINO sees it.

An IR is two files: the graph in XML and the weights in a flat binary file of the same stem, which every
constant of the graph addresses by ``offset`` and ``size``. This reader:

- parses the XML with no document type and no entities (no external entity can be fetched, no entity can
  expand a few kilobytes into gigabytes), within the runtime's model size limit;
- takes the weights only from the plain file beside it, in the model's own folder (a link that leads out
  is refused), within the same limit;
- checks that every constant lies inside the weights, and, for a file edgetl exported, that the weights are
  the ones it was exported with (their SHA-256 is in the XML's ``rt_info``), so a ``model.bin`` from another
  export is refused instead of giving wrong answers;
- reads edgetl's contract from ``rt_info`` (``<edgetl><contract value="..."/></edgetl>``).

Stdlib only, so that the runtime folder can be vendored into a device app.
"""
from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelFileError
from .limits import MAX_MODEL_BYTES, read_bounded

WEIGHTS_SUFFIX = ".bin"
RT_INFO_SECTION = "edgetl"  # rt_info/edgetl/{contract, weights_sha256}
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class IrFacts:
    """What the XML says of itself: its edgetl entries and the byte ranges its constants read."""

    info: dict[str, str] = field(default_factory=dict)
    const_spans: tuple[tuple[int, int], ...] = ()
    types: tuple[str, ...] = ()  # each layer's type, in order


def read_ir(data: bytes, name: str) -> IrFacts:
    """The facts of the IR XML ``data`` (from ``name``); ModelFileError when it is not a safe IR."""
    if _DTD.search(data):
        raise ModelFileError(f"{name}: the XML declares a document type or entities, which an OpenVINO IR never "
                             "does; refused. Export it again.")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ModelFileError(f"{name}: not well-formed XML ({exc}). Export or copy the file again.") from None
    if root.tag != "net":
        raise ModelFileError(f"{name}: an XML file that is not an OpenVINO IR (its root is <{root.tag[:40]}>, not "
                             "<net>). edgetl runs OpenVINO IR .xml files with their .bin beside them.")
    spans = []
    layers = root.findall("./layers/layer")
    for layer in layers:
        d = layer.find("data")
        if layer.get("type") == "Const" and d is not None and d.get("offset") is not None:
            try:
                spans.append((int(d.get("offset", "")), int(d.get("size", ""))))
            except ValueError:
                raise ModelFileError(f"{name}: constant {layer.get('name', '?')[:80]!r} has a malformed offset or "
                                     "size. Export the model again.") from None
    info = {el.tag: str(el.get("value", "")) for el in root.findall(f"./rt_info/{RT_INFO_SECTION}/*")}
    return IrFacts(info=info, const_spans=tuple(spans), types=tuple(str(x.get("type", "?")) for x in layers))


def contract_bytes(data: bytes, name: str) -> bytes | None:
    """edgetl's contract in the IR's ``rt_info``, if any."""
    v = read_ir(data, name).info.get("contract")
    return v.encode() if v else None


def weights_path(xml: str | Path) -> Path:
    return Path(xml).with_suffix(WEIGHTS_SUFFIX)


def read_weights(xml: str | Path, facts: IrFacts) -> bytes:
    """The bytes of the IR's weights file, checked against what its XML says; ModelFileError otherwise."""
    xp = Path(xml)
    wp = weights_path(xp)
    if not wp.exists() and not wp.is_symlink():
        if not facts.const_spans:
            return b""
        raise ModelFileError(f"{wp}: missing. An OpenVINO IR is two files: copy {wp.name} (its weights) next to "
                             f"{xp.name}.")
    if Path(os.path.realpath(wp)).parent != Path(os.path.realpath(xp)).parent:
        raise ModelFileError(f"{wp}: a link that leads out of the model's folder; edgetl reads an IR's weights only "
                             f"from the plain file beside it. Copy the real {wp.name} there.")
    data = read_bounded(wp, MAX_MODEL_BYTES, f"{wp}")
    bad = next(((o, s) for o, s in facts.const_spans if o < 0 or s < 0 or o + s > len(data)), None)
    if bad is not None:
        raise ModelFileError(f"{wp}: {len(data)} bytes, but {xp.name} reads {bad[1]} bytes at offset {bad[0]}: the "
                             "two files are not one export (or one is truncated). Copy both files of one export.")
    want = facts.info.get("weights_sha256")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise ModelFileError(f"{wp}: not the weights {xp.name} was exported with (SHA-256 differs). Copy {xp.name} "
                             f"and {wp.name} from one export, together.")
    return data
