"""Image decoding for training: the runtime's decoder, so training and devices see the same pixels."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ..runtime.image import (DECODE_VERSION, IMAGE_EXTENSIONS, RESIZE_METHOD, ImageDecodeError, load_array, load_rgb,
                             to_rgb)

__all__ = ["decode_many", "DECODE_VERSION", "IMAGE_EXTENSIONS", "RESIZE_METHOD", "ImageDecodeError", "load_array", "load_rgb",
           "to_rgb"]


def decode_many(paths: Sequence[str], size: int) -> tuple[np.ndarray, list[int]]:
    """Decode ``paths`` to (N, size, size, 3) uint8; returns the pixels and the indices that decoded.

    Serves verification, calibration and the benchmark's accuracy images.
    """
    out = np.zeros((len(paths), size, size, 3), np.uint8)
    ok = np.ones(len(paths), bool)

    def work(i: int) -> None:
        try:
            out[i] = load_array(paths[i], size)
        except ImageDecodeError:
            ok[i] = False

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(len(paths))))
    keep = [i for i in range(len(paths)) if ok[i]]
    return out[ok], keep
