"""Calibration images: a seeded sample of training images, decoded exactly as in training."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from ..data.images import decode_many


def calibration_pixels(train_paths: Sequence[str], count: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = min(count, len(train_paths))
    chosen = [train_paths[i] for i in sorted(rng.choice(len(train_paths), size=n, replace=False))]
    pixels, _ = decode_many(chosen, size)
    return pixels


def representative(pixels: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> Callable[[], Iterable[list[np.ndarray]]]:
    """A TFLite representative_dataset over ``pixels`` (float32 0..255, batch 1)."""

    def gen() -> Iterable[list[np.ndarray]]:
        for p in pixels:
            x = p[None].astype(np.float32)
            yield [transform(x) if transform else x]

    return gen
