"""A small, bounds-checked reader for TFLite flatbuffers: metadata entries and operator codes.

No TensorFlow or flatbuffers package: the runtime reads the edgetl contract embedded in a model and
checks that a file is a well-formed TFLite model before handing it to a native interpreter.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import RuntimeBackendError

IDENTIFIER = b"TFL3"
CONTRACT_METADATA_NAME = "edgetl_contract"


class _Reader:
    def __init__(self, buf: bytes, name: str) -> None:
        self.buf = buf
        self.name = name

    def _bad(self, what: str) -> RuntimeBackendError:
        return RuntimeBackendError(f"{self.name}: not a valid TFLite model ({what}). The file may be truncated or "
                                   "corrupted: export or copy it again.")

    def u32(self, pos: int) -> int:
        if pos < 0 or pos + 4 > len(self.buf):
            raise self._bad(f"offset {pos} outside the file")
        return struct.unpack_from("<I", self.buf, pos)[0]

    def i32(self, pos: int) -> int:
        return struct.unpack_from("<i", self.buf, self._check(pos, 4))[0]

    def u16(self, pos: int) -> int:
        return struct.unpack_from("<H", self.buf, self._check(pos, 2))[0]

    def _check(self, pos: int, n: int) -> int:
        if pos < 0 or pos + n > len(self.buf):
            raise self._bad(f"offset {pos} outside the file")
        return pos

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field ``index`` of the table at ``table``, or None when absent."""
        vtable = table - self.i32(table)
        vsize = self.u16(vtable)
        if 4 + 2 * index >= vsize:
            return None
        off = self.u16(vtable + 4 + 2 * index)
        return table + off if off else None

    def deref(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(start, length) of a vector field; (0, 0) when absent."""
        p = self.field(table, index)
        if p is None:
            return 0, 0
        v = self.deref(p)
        n = self.u32(v)
        if n > len(self.buf):
            raise self._bad("vector length larger than the file")
        return v + 4, n

    def string(self, table: int, index: int) -> str | None:
        start, n = self.vector(table, index)
        if not start:
            return None
        self._check(start, n)
        return self.buf[start:start + n].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class OpCode:
    builtin_code: int
    custom_code: str | None
    version: int


def check_header(buf: bytes, name: str = "model") -> None:
    if len(buf) < 8:
        raise RuntimeBackendError(f"{name}: file is {len(buf)} bytes, too small to be a TFLite model.")
    if buf[4:8] != IDENTIFIER:
        raise RuntimeBackendError(f"{name}: not a TFLite model (file identifier {buf[4:8]!r}, expected {IDENTIFIER!r}).")


def read_metadata(buf: bytes, name: str = "model") -> dict[str, bytes]:
    """The model's metadata entries as ``{name: bytes}``."""
    check_header(buf, name)
    r = _Reader(buf, name)
    root = r.deref(0)
    b_start, b_len = r.vector(root, 4)
    m_start, m_len = r.vector(root, 6)
    out: dict[str, bytes] = {}
    for i in range(m_len):
        meta = r.deref(m_start + 4 * i)
        key = r.string(meta, 0) or ""
        bp = r.field(meta, 1)
        bidx = r.u32(bp) if bp is not None else 0
        if bidx >= b_len:
            raise r._bad(f"metadata {key!r} points to buffer {bidx} of {b_len}")
        buffer = r.deref(b_start + 4 * bidx)
        d_start, d_len = r.vector(buffer, 0)
        r._check(d_start, d_len)
        out[key] = bytes(buf[d_start:d_start + d_len])
    return out


def read_opcodes(buf: bytes, name: str = "model") -> list[OpCode]:
    """Operator codes used by the model (builtin code, custom code name, version)."""
    check_header(buf, name)
    r = _Reader(buf, name)
    root = r.deref(0)
    start, n = r.vector(root, 1)
    out = []
    for i in range(n):
        t = r.deref(start + 4 * i)
        p_dep = r.field(t, 0)
        dep = struct.unpack_from("<b", buf, r._check(p_dep, 1))[0] if p_dep is not None else 0
        p_ver = r.field(t, 2)
        ver = r.i32(p_ver) if p_ver is not None else 1
        p_code = r.field(t, 3)
        code = r.i32(p_code) if p_code is not None else 0
        out.append(OpCode(max(dep, code), r.string(t, 1), ver))
    return out
