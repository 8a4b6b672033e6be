"""Calibration images: a seeded sample of training images, decoded exactly as in training."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..data.images import decode_many


MIN_CALIBRATION_IMAGES = 100  # below this, activation ranges are often too narrow (TFLite's guide: ~100-500)


def calibration_pixels(train_paths: Sequence[str], count: int, size: int, seed: int = 0) -> np.ndarray:
    return calibration_set(train_paths, count, size, seed)[0]


def calibration_set(train_paths: Sequence[str], count: int, size: int, seed: int = 0
                    ) -> tuple[np.ndarray, list[int]]:
    """A seeded sample of training images, decoded; returns the pixels and the chosen indices."""
    rng = np.random.default_rng(seed)
    n = min(count, len(train_paths))
    idx = sorted(int(i) for i in rng.choice(len(train_paths), size=n, replace=False))
    pixels, keep = decode_many([train_paths[i] for i in idx], size)
    return pixels, [idx[k] for k in keep]


def audit(chosen_labels: Sequence[int], classes: Sequence[str], requested: int, unit: str = "images",
          population: Sequence[int] | None = None) -> dict[str, object]:
    """How many calibration images (or texts), how balanced across classes, and warnings when too few or skewed.

    Skewed: a class holds under half of what it should. With ``population`` (the labels of the split the sample
    came from) "should" is the class's share of that split, so a class that is rare in the data is not called
    skewed for being rare; without it, an even share. Classes expected to hold fewer than 2 are not judged.
    """
    counts = {c: 0 for c in classes}
    for label in chosen_labels:
        if 0 <= label < len(classes):
            counts[classes[label]] += 1
    n = sum(counts.values())
    warnings = []
    available = len(population) if population is not None else None
    why = (f"the training split holds {available}" if available is not None and available <= requested
           else f"asked for {requested}")
    if n < MIN_CALIBRATION_IMAGES:
        fix = ("add training data or lower the validation/test splits" if available is not None
               and available <= requested else "raise export.calibration_images")
        warnings.append(f"only {n} calibration {unit} ({why}); activation ranges from fewer than "
                        f"{MIN_CALIBRATION_IMAGES} are often too narrow: {fix}")
    if population is not None and len(population):
        pop = np.bincount(np.asarray([p for p in population if 0 <= p < len(classes)], dtype=np.int64),
                          minlength=len(classes))
        expected = {c: n * pop[i] / max(pop.sum(), 1) for i, c in enumerate(classes)}
        basis = "their share of the training split"
    else:
        expected = {c: n / max(len(classes), 1) for c in classes}
        basis = "an even share"
    thin = [c for c, k in counts.items() if expected[c] >= 2 and k < 0.5 * expected[c]]
    if n and thin:
        warnings.append(f"calibration is skewed: {', '.join(f'{c} {counts[c]} (expected {expected[c]:.0f})' for c in thin)}"
                        f" of {n} {unit}, under half of {basis}; ranges may not cover those classes")
    return {"images": n, "requested": requested, "available": available, "per_class": counts, "warnings": warnings, "unit": unit,
            "skew_basis": basis, "split": f"train (calibration {unit} are never verification or test {unit})"}


def representative(pixels: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None = None, *,
                   keep_dtype: bool = False) -> Callable[[], Iterable[list[np.ndarray]]]:
    """A TFLite representative_dataset over ``pixels`` (float32 0..255, batch 1); token ids keep their dtype."""

    def gen() -> Iterable[Any]:
        from ..progress import track
        from ..runtime.bert_inputs import companions

        for p in track(pixels, "calibration"):
            x = p[None] if keep_dtype else p[None].astype(np.float32)
            if keep_dtype:  # token ids: the text model's BERT form takes their mask and segment ids beside them
                yield {"ids": x.astype(np.int32), **companions(x.astype(np.int32))}
            else:
                yield [transform(x) if transform else x]

    return gen
