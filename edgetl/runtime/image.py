"""Decode any image file Pillow reads into RGB pixels of a fixed size (numpy + Pillow only).

The same function serves training, export calibration and the runtime's reference, so every stage
sees the pixels the device will see: EXIF orientation applied, alpha composited on white, palette,
grayscale, 16-bit and CMYK turned into RGB, then a bilinear resize to the model's input size.
"""
from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .limits import MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, open_regular

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
# Pillow decoders edgetl lets open a file, whatever its name says: an EPS or PDF named .jpg never reaches
# Ghostscript, nor any other of Pillow's 40-odd formats. (The JPEG opener also returns MPO, how Pillow names
# many camera JPEGs.)
PIL_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF")
RESIZE_METHOD = "bilinear"
DECODE_VERSION = 2  # v2: JPEGs larger than twice the target decode at reduced size (DCT scaling)
_ROWS = 512  # rows converted at a time for 16-bit and float images (no whole-image float copies)


class _PixelBudget:
    """Bounds the pixels being decoded at once across threads, so parallel decoding has bounded memory."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._used = 0

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        cap = MAX_IMAGE_PIXELS.value
        need = min(max(pixels, 1), cap)
        with self._cv:
            self._cv.wait_for(lambda: self._used == 0 or self._used + need <= cap)
            self._used += need
        try:
            yield
        finally:
            with self._cv:
                self._used -= need
                self._cv.notify_all()


_BUDGET = _PixelBudget()


class ImageDecodeError(Exception):
    """The file is not an image Pillow can decode completely (unreadable, truncated, not an image)."""


def to_rgb(img):  # type: ignore[no-untyped-def]
    """Return a Pillow image in RGB mode, whatever mode it came in."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        img = Image.fromarray(_stretch_to_uint8(np.asarray(img)), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("RGB")


def _stretch_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Map 16/32-bit integer (0..max) or float (min..max) greyscale onto 0..255, a block of rows at a time."""
    is_float = arr.dtype.kind == "f"
    lo, hi = np.inf, -np.inf
    for b in _blocks(arr):
        if is_float:
            b = b[np.isfinite(b)]
        if b.size:
            lo, hi = min(lo, float(b.min())), max(hi, float(b.max()))
    if lo > hi:
        lo, hi = 0.0, 1.0
    if not is_float:
        lo = 0.0
    scale = np.float32(255.0 / ((hi - lo) or 1.0))
    out = np.empty(arr.shape, np.uint8)
    for i, b in enumerate(_blocks(arr)):
        x = b.astype(np.float32)
        if is_float:
            np.nan_to_num(x, copy=False, nan=lo, posinf=hi, neginf=lo)
        x -= np.float32(lo)
        x *= scale
        np.clip(x, 0, 255, out=x)
        out[i * _ROWS:i * _ROWS + len(b)] = np.rint(x)
    return out


def _blocks(arr: np.ndarray) -> list[np.ndarray]:
    return [arr[i:i + _ROWS] for i in range(0, arr.shape[0], _ROWS)]


def load_rgb(path: str | Path | bytes, size: int | tuple[int, int] | None = None,  # type: ignore[no-untyped-def]
             *, name: str = "image"):
    """Open ``path`` (a file, or the bytes of one) as an RGB Pillow image (EXIF-rotated), resized to ``size``.

    Only JPEG, PNG, BMP, WebP and GIF decoders may open the file, whatever its name; only regular files are
    opened (a FIFO or device named like a photo is refused, not waited on); files over
    ``EDGETL_MAX_IMAGE_FILE_BYTES`` and images with more than ``EDGETL_MAX_IMAGE_PIXELS`` pixels are refused
    before they are decoded, and the pixels being decoded at once by all threads are bounded by the same number.
    Bytes (a contract's golden images) go through exactly the same checks; ``name`` names them in errors.

    Raises:
        ImageDecodeError: the file is missing, not an image of those formats, too large, or truncated.
    """
    from PIL import Image, UnidentifiedImageError

    label = name if isinstance(path, (bytes, bytearray)) else str(path)
    try:
        with _open_source(path, label) as f:
            return _decode(f, label, size)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard (at 2x its default) can fire first
        raise ImageDecodeError(f"{label}: {exc} (edgetl's limit is EDGETL_MAX_IMAGE_PIXELS={MAX_IMAGE_PIXELS.value:,}; "
                               "raise it for genuine large images)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
            ZeroDivisionError, MemoryError, KeyError, struct_error()) as exc:
        raise ImageDecodeError(f"{label}: {type(exc).__name__}: {exc}") from exc


def _open_source(path: str | Path | bytes, label: str):  # type: ignore[no-untyped-def]
    """A binary file object over the image: a regular file within the size limit, or the given bytes."""
    import io

    if isinstance(path, (bytes, bytearray)):
        if len(path) > MAX_IMAGE_FILE_BYTES.value:
            raise ImageDecodeError(MAX_IMAGE_FILE_BYTES.exceeded(len(path), label))
        return io.BytesIO(bytes(path))
    f = open_regular(path, label, ImageDecodeError)
    size = os.fstat(f.fileno()).st_size
    if size > MAX_IMAGE_FILE_BYTES.value:
        f.close()
        raise ImageDecodeError(MAX_IMAGE_FILE_BYTES.exceeded(size, label))
    return f


def _decode(f, path: str, size: int | tuple[int, int] | None):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageOps

    wh = None if size is None else ((size, size) if isinstance(size, int) else (size[1], size[0]))
    Image.init()  # registers every plugin, MPO and WebP included, before formats= selects among them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # edgetl's own limit applies below
        im_ctx = Image.open(f, formats=PIL_FORMATS)
    with im_ctx as im:
        pixels = im.size[0] * im.size[1]
        if pixels > MAX_IMAGE_PIXELS.value:
            raise ImageDecodeError(MAX_IMAGE_PIXELS.exceeded(pixels, f"{path}: {im.size[0]}x{im.size[1]} image"))
        with _BUDGET.hold(pixels):
            im.seek(0)  # first frame of an animated GIF/WebP
            if wh is not None and im.format in ("JPEG", "MPO"):
                side = max(wh)
                im.draft("RGB", (side, side))  # decode at 1/2, 1/4 or 1/8 size when that still covers it
            im.load()
            im = ImageOps.exif_transpose(im) or im
            rgb = to_rgb(im)
            if rgb.width >= 1 and rgb.height >= 1 and wh is not None:
                rgb = resize(rgb, wh)
    if rgb.width < 1 or rgb.height < 1:
        raise ImageDecodeError(f"{path}: image has no pixels")
    return rgb


def struct_error() -> type[Exception]:
    import struct

    return struct.error


def resize(img, wh: tuple[int, int]):  # type: ignore[no-untyped-def]
    from PIL import Image

    if img.size == wh:
        return img
    return img.resize(wh, Image.Resampling.BILINEAR)


def load_array(path: str | Path, size: int) -> np.ndarray:
    """Decode ``path`` into a (size, size, 3) uint8 array."""
    return np.asarray(load_rgb(path, size), dtype=np.uint8)
