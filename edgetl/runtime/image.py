"""Decode any image file Pillow reads into RGB pixels of a fixed size (numpy + Pillow only).

The same function serves training, export calibration and the runtime's reference, so every stage
sees the pixels the device will see: EXIF orientation applied, alpha composited on white, palette,
grayscale, 16-bit and CMYK turned into RGB, then a bilinear resize to the model's input size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
RESIZE_METHOD = "bilinear"


class ImageDecodeError(Exception):
    """The file is not an image Pillow can decode completely (unreadable, truncated, not an image)."""


def to_rgb(img):  # type: ignore[no-untyped-def]
    """Return a Pillow image in RGB mode, whatever mode it came in."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        arr = (arr / (hi if hi > 0 else 1.0) * 255.0).round().astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    elif img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / ((hi - lo) or 1.0) * 255.0).round().astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("RGB")


def load_rgb(path: str | Path, size: int | tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """Open ``path`` as an RGB Pillow image (EXIF-rotated), resized to ``size`` when given.

    Raises:
        ImageDecodeError: the file is missing, not an image, or truncated.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.seek(0)  # first frame of an animated GIF/WebP
            im.load()
            im = ImageOps.exif_transpose(im) or im
            rgb = to_rgb(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            EOFError, IndexError, TypeError, ZeroDivisionError, MemoryError) as exc:
        raise ImageDecodeError(f"{path}: {type(exc).__name__}: {exc}") from exc
    if rgb.width < 1 or rgb.height < 1:
        raise ImageDecodeError(f"{path}: image has no pixels")
    if size is not None:
        wh = (size, size) if isinstance(size, int) else (size[1], size[0])
        rgb = resize(rgb, wh)
    return rgb


def resize(img, wh: tuple[int, int]):  # type: ignore[no-untyped-def]
    from PIL import Image

    if img.size == wh:
        return img
    return img.resize(wh, Image.Resampling.BILINEAR)


def load_array(path: str | Path, size: int) -> np.ndarray:
    """Decode ``path`` into a (size, size, 3) uint8 array."""
    return np.asarray(load_rgb(path, size), dtype=np.uint8)
