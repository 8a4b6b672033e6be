"""Read the standard TFLite Model Metadata (``TFLITE_METADATA``, schema ``M001``) that Model Maker, MediaPipe's
writers and ``edgetl export`` put in a ``.tflite``: the input normalization and the labels file.

Bounds-checked like the rest of ``tflite_file.py`` and refused in one line when absurd (NaN, zero or huge std,
a mean outside 0..255, a label file that is not text or too large): a foreign file's metadata is untrusted.
numpy-free and TensorFlow-free: the runtime uses it for a file that has no edgetl contract.
"""
from __future__ import annotations

import io
import math
import struct
import zipfile
from dataclasses import dataclass

from ..errors import ModelFileError, RuntimeBackendError
from .tflite_file import _Reader, read_metadata

METADATA_NAME = "TFLITE_METADATA"
MAX_LABELS_BYTES = 4 << 20
MAX_LABELS = 100_000
STD_RANGE = (1e-3, 1e4)  # on 0..255 pixels: 1/255 .. 255 are the usual ones
_NORMALIZATION, _TENSOR_AXIS_LABELS = 1, 2


@dataclass(frozen=True)
class StandardMetadata:
    """What the standard metadata says of the first subgraph's input and output."""

    name: str | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    labels: tuple[str, ...] | None
    labels_file: str | None


def read_standard(buf: bytes, name: str = "model") -> StandardMetadata | None:
    """The model's standard metadata, or None when it has none; ModelFileError when it is malformed or absurd."""
    raw = read_metadata(buf, name).get(METADATA_NAME)
    if raw is None:
        return None
    r = _Reader(raw, f"{name} (TFLITE_METADATA)")
    try:
        root = r.deref(0)
        title = r.string(root, 0)
        sub_start, sub_n = r.vector(root, 3)
        if not sub_n:
            return StandardMetadata(title, None, None, None, None)
        sub = r.deref(sub_start)
        mean, std = _normalization(r, sub)
        label_file = _labels_file(r, sub)
    except (struct.error, RecursionError, ValueError, RuntimeBackendError) as exc:  # incl. the reader's bounds
        raise ModelFileError(f"{name}: its TFLITE_METADATA is malformed ({exc}). Pass mean, std and labels "
                             "explicitly, or export the model again.") from None
    _check_normalization(name, mean, std)
    labels = _read_labels(buf, name, label_file) if label_file else None
    return StandardMetadata(title, mean, std, labels, label_file)


def _tables(r: _Reader, table: int, index: int) -> list[int]:
    start, n = r.vector(table, index)
    if n > 4096:
        raise ValueError(f"{n} entries in one list")
    return [r.deref(start + 4 * i) for i in range(n)]


def _floats(r: _Reader, table: int, index: int) -> tuple[float, ...]:
    start, n = r.vector(table, index)
    if n > 16:
        raise ValueError(f"{n} normalization values")
    r._check(start, 4 * n)
    return tuple(struct.unpack_from(f"<{n}f", r.buf, start)) if n else ()


def _union_type(r: _Reader, table: int, index: int) -> int:
    p = r.field(table, index)
    return r.buf[r._check(p, 1)] if p is not None else 0


def _normalization(r: _Reader, sub: int) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """NormalizationOptions of the first input tensor (or of the subgraph's input process units)."""
    inputs = _tables(r, sub, 2)
    units = (_tables(r, inputs[0], 4) if inputs else []) + _tables(r, sub, 5)
    for unit in units:
        if _union_type(r, unit, 0) == _NORMALIZATION:
            p = r.field(unit, 1)
            if p is None:
                continue
            opts = r.deref(p)
            return _floats(r, opts, 0), _floats(r, opts, 1)
    return None, None


def _labels_file(r: _Reader, sub: int) -> str | None:
    outputs = _tables(r, sub, 3)
    for f in (_tables(r, outputs[0], 6) if outputs else []):
        p = r.field(f, 2)
        kind = struct.unpack_from("<b", r.buf, r._check(p, 1))[0] if p is not None else 0
        if kind == _TENSOR_AXIS_LABELS:
            return r.string(f, 0)
    return None


def _check_normalization(name: str, mean: tuple[float, ...] | None, std: tuple[float, ...] | None) -> None:
    if mean is None and std is None:
        return
    mean, std = mean or (), std or ()
    why = ""
    if len(mean) not in (1, 3) or len(std) not in (1, 3):
        why = f"{len(mean)} mean and {len(std)} std values (1 or 3 each)"
    elif not all(math.isfinite(v) for v in mean + std):
        why = f"mean {list(mean)}, std {list(std)} are not all finite"
    elif not all(STD_RANGE[0] <= v <= STD_RANGE[1] for v in std):
        why = f"std {list(std)} outside {STD_RANGE[0]:g}..{STD_RANGE[1]:g}"
    elif not all(0.0 <= v <= 255.0 for v in mean):
        why = f"mean {list(mean)} outside the pixel range 0..255"
    if why:
        raise ModelFileError(f"{name}: its metadata declares an absurd input normalization ({why}), so every score "
                             "would be wrong. Pass the model's real mean and std explicitly, or fix the metadata.")


def _read_labels(buf: bytes, name: str, file: str) -> tuple[str, ...]:
    """The labels file from the zip of associated files appended to the model, bounded."""
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as z:
            info = z.getinfo(file)
            if info.file_size > MAX_LABELS_BYTES:
                raise ValueError(f"{file} is {info.file_size:,} bytes (at most {MAX_LABELS_BYTES:,})")
            with z.open(info) as f:
                data = f.read(MAX_LABELS_BYTES + 1)
    except KeyError:
        raise ModelFileError(f"{name}: its metadata names the label file {file!r}, which the file does not hold. "
                             "Pass labels explicitly, or add the file with a metadata writer.") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ModelFileError(f"{name}: the label file {file!r} in it is unreadable ({exc}). Pass labels "
                             "explicitly.") from None
    if len(data) > MAX_LABELS_BYTES:
        raise ModelFileError(f"{name}: the label file {file!r} is larger than {MAX_LABELS_BYTES:,} bytes once read.")
    lines = [x.strip() for x in data.decode("utf-8", "replace").split("\n")]
    labels = tuple(x for x in lines if x)
    if len(labels) > MAX_LABELS:
        raise ModelFileError(f"{name}: the label file {file!r} has {len(labels):,} names (at most {MAX_LABELS:,}).")
    return labels
