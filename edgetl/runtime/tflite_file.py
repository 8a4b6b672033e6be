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


def contract_bytes(buf: bytes, name: str) -> bytes | None:
    """edgetl's contract embedded in the file's metadata, if any."""
    return read_metadata(buf, name).get(CONTRACT_METADATA_NAME)


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


TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
                8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
                14: "variant", 15: "uint32", 16: "uint16", 17: "int4"}
TYPE_BYTES = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "string": 1, "bool": 1, "int16": 2,
              "complex64": 8, "int8": 1, "float64": 8, "complex128": 16, "uint64": 8, "uint32": 4, "uint16": 2,
              "int4": 0.5}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int
    constant: bool  # backed by data in the file (weights, biases)
    data_bytes: int
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= max(d, 1)
        return n

    @property
    def nbytes(self) -> int:
        return int(self.elements * TYPE_BYTES.get(self.dtype, 4))


@dataclass(frozen=True)
class OperatorInfo:
    index: int
    opcode: OpCode
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    tensors: list[TensorInfo]
    operators: list[OperatorInfo]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int


def _ints(r: _Reader, table: int, index: int, fmt: str = "<i", size: int = 4) -> tuple[int, ...]:
    start, n = r.vector(table, index)
    if not start:
        return ()
    r._check(start, n * size)
    return tuple(struct.unpack_from(f"<{n}{fmt[-1]}", r.buf, start))


def _external_size(r: _Reader, b: int, index: int) -> int:
    """Size of buffer ``index`` stored after the flatbuffer (the >2 GB layout: fields offset and size, from the
    start of the file), checked to lie inside the file: the runtime refuses it otherwise, so inspect does too."""
    off_pos, size_pos = r.field(b, 1), r.field(b, 2)
    offset = struct.unpack_from("<Q", r.buf, r._check(off_pos, 8))[0] if off_pos is not None else 0
    size = struct.unpack_from("<Q", r.buf, r._check(size_pos, 8))[0] if size_pos is not None else 0
    if offset > 1 and offset + size > len(r.buf):
        raise r._bad(f"buffer {index} says it lies at bytes {offset:,}..{offset + size:,}, past the end of the "
                     f"{len(r.buf):,}-byte file (truncated or crafted)")
    if size > 0 and offset <= 1:
        raise r._bad(f"buffer {index} declares {size:,} bytes but no place in the file")
    return size


def read_graph(buf: bytes, name: str = "model") -> Graph:
    """Tensors and operators of the main subgraph, with constant-buffer sizes."""
    check_header(buf, name)
    r = _Reader(buf, name)
    root = r.deref(0)
    opcodes = read_opcodes(buf, name)
    b_start, b_len = r.vector(root, 4)
    buf_sizes = []
    for i in range(b_len):
        b = r.deref(b_start + 4 * i)
        d_start, d_len = r.vector(b, 0)
        if d_start:
            r._check(d_start, d_len)
        buf_sizes.append(d_len or _external_size(r, b, i))
    s_start, s_len = r.vector(root, 2)
    if s_len < 1:
        raise r._bad("no subgraph")
    sg = r.deref(s_start)
    t_start, t_len = r.vector(sg, 0)
    tensors = []
    for i in range(t_len):
        t = r.deref(t_start + 4 * i)
        tp = r.field(t, 1)
        dtype = TENSOR_TYPES.get(buf[r._check(tp, 1)] if tp is not None else 0, "unknown")
        bp = r.field(t, 2)
        bidx = r.u32(bp) if bp is not None else 0
        q = r.field(t, 4)
        scale: tuple[float, ...] = ()
        zps: tuple[int, ...] = ()
        if q is not None:
            qt = r.deref(q)
            scale = tuple(float(x) for x in _ints(r, qt, 2, "<f"))
            zps = _ints(r, qt, 3, "<q", 8)
        nbytes = buf_sizes[bidx] if 0 < bidx < len(buf_sizes) else 0
        shape = _ints(r, t, 0)
        tensors.append(TensorInfo(i, r.string(t, 3) or f"t{i}", shape, _ints(r, t, 7) or shape, dtype, bidx,
                                  nbytes > 0, nbytes, scale, zps))
    o_start, o_len = r.vector(sg, 3)
    ops = []
    for i in range(o_len):
        o = r.deref(o_start + 4 * i)
        p = r.field(o, 0)
        idx = r.u32(p) if p is not None else 0
        if idx >= len(opcodes):
            raise r._bad(f"operator {i} uses opcode {idx} of {len(opcodes)}")
        ins, outs = _ints(r, o, 1), _ints(r, o, 2)
        if any(x >= t_len or x < -1 for x in ins) or any(x >= t_len or x < 0 for x in outs):
            raise r._bad(f"operator {i} refers to a tensor outside 0..{t_len - 1}")
        ops.append(OperatorInfo(i, opcodes[idx], ins, outs))
    g_in, g_out = _ints(r, sg, 1), _ints(r, sg, 2)
    for what, idxs in (("input", g_in), ("output", g_out)):
        if any(not 0 <= x < t_len for x in idxs):
            raise r._bad(f"the subgraph's {what} list names tensor {[x for x in idxs if not 0 <= x < t_len][0]}, "
                         f"outside 0..{t_len - 1}")
    for t in tensors:
        if any(d < -1 for d in t.shape):
            raise r._bad(f"tensor {t.index} has a negative dimension {list(t.shape)}")
    return Graph(tensors, ops, g_in, g_out, s_len)
