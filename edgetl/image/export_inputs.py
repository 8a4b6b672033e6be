"""The image modality's export inputs: decoded validation, test and calibration pixels at the model's size."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import decode_many
from ..export.inputs import ExportInputs


class ImageExportInputs(ExportInputs):
    @property
    def signature(self) -> tuple[tuple[int, ...], str, str]:
        return (self.size, self.size, 3), "float32", "image"

    def model_input(self, items: Any) -> np.ndarray:
        """Pixels as they are (the model normalizes inside its graph)."""
        return items

    def golden_fields(self, items: Any) -> tuple[list[dict[str, Any]], Any]:
        from ..export.contract import jpeg_fields

        return jpeg_fields(items)

    def keras_scores(self, items: Any) -> np.ndarray:
        from ..train.loops import predict_images

        return predict_images(self.model, items)

    @cached_property
    def validation(self) -> tuple[list[str], Any, np.ndarray]:
        """(names, pixels, labels) of the validation photos that decode."""
        items, labels = self.split.part("val")
        labels = np.asarray(labels, np.int64)
        n = self.config.verify_images or len(items)
        paths = list(items)
        pixels, keep = decode_many(paths[:n], self.size)
        return [paths[i] for i in keep], pixels, labels[:n][keep]

    @cached_property
    def test(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The held-out test photos (empty when the run has no test split)."""
        items, labels = self.split.part("test")
        labels = np.asarray(labels, np.int64)
        paths = list(items)
        if not paths:
            return [], np.zeros((0, self.size, self.size, 3), np.uint8), labels
        pixels, keep = decode_many(paths, self.size)
        return [paths[i] for i in keep], pixels, labels[keep]

    @cached_property
    def _calibration(self) -> tuple[np.ndarray, dict[str, Any]]:
        from ..quantize.calibration import audit, calibration_set

        train, labels = self.split.part("train")
        pixels, idx = calibration_set(list(train), self.config.calibration_images, self.size)
        if train and all(v == -1 for v in labels):  # runs from before train_labels: the class folder names it
            pos = {c: i for i, c in enumerate(self.labels)}
            labels = [pos.get(Path(p).parent.name, -1) for p in train]
        return pixels, audit([labels[i] for i in idx], self.labels, self.config.calibration_images, population=labels)
