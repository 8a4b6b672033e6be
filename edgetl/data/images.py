"""Image decoding for training: the runtime's decoder, so training and devices see the same pixels."""
from __future__ import annotations

from ..runtime.image import (DECODE_VERSION, IMAGE_EXTENSIONS, RESIZE_METHOD, ImageDecodeError, load_array, load_rgb,
                             to_rgb)

__all__ = ["DECODE_VERSION", "IMAGE_EXTENSIONS", "RESIZE_METHOD", "ImageDecodeError", "load_array", "load_rgb",
           "to_rgb"]
