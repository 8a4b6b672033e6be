"""What every export stage of one run shares, loaded once: the train record, the Keras model, the validation,
test and calibration items, the SavedModel."""
from __future__ import annotations

import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import read_json
from ..config import ExportConfig
from ..data.images import decode_many
from ..targets import get as get_target
from ..train_record import read as read_record


def load_keras(path: Path) -> Any:
    from ..model_io import load_keras as load

    return load(path)


class ExportInputs:
    """What every export stage of one run shares, loaded once: the Keras model, images, the SavedModel."""

    def __init__(self, train_dir: Path, config: ExportConfig) -> None:
        self.train_dir = train_dir
        self.config = config
        try:
            self.record = read_record(train_dir)
        except ValueError as exc:
            from ..errors import ConfigError

            raise ConfigError(f"{exc}: export reads a run folder that edgetl train wrote; train it again.") from exc
        self.split = self.record.split
        # metrics.json (JSON) is the source of the labels; labels.txt is for people and other tools
        self.labels = self.record.classes
        self.size = self.record.input_size  # pixels, or tokens for a text model
        self.kind = self.record.kind
        self._tmp = tempfile.TemporaryDirectory(prefix="edgetl-export-")
        self.tokenizer = None
        self.rounding: dict[str, dict[str, Any]] = {}  # target -> what its weight rounding chose (the exporters')
        if self.kind == "text":
            from ..runtime.tokenizer import WordPieceTokenizer

            self.tokenizer = WordPieceTokenizer.from_dict(read_json(train_dir / "tokenizer.json"))
            bad = [t for t in config.targets if get_target(t).io_dtype == "uint8"]
            if bad:
                from ..errors import ConfigError

                raise ConfigError(f"{', '.join(bad)}: uint8 input is for images; a text model takes token ids. "
                                  "Use tflite:int8 (int8 inside, token ids in) instead.")

    @property
    def signature(self) -> tuple[tuple[int, ...], str, str]:
        """The model input without the batch: (shape, dtype, name)."""
        if self.kind == "text":
            return (self.size,), "int32", "tokens"
        return (self.size, self.size, 3), "float32", "image"

    def model_input(self, items: Any) -> np.ndarray:
        """What the Keras model takes for validation items: pixels as they are, texts as token ids."""
        return self.tokenizer.batch(items) if self.tokenizer is not None else items

    def keras_scores(self, items: Any) -> np.ndarray:
        from ..train.loops import predict_images

        if self.tokenizer is not None:
            if not len(items):
                return np.zeros((0, len(self.labels)), np.float32)
            return self.model.predict(self.model_input(items), batch_size=64, verbose=0)
        return predict_images(self.model, items)

    @cached_property
    def model(self) -> Any:
        from ..errors import ConversionError

        model = load_keras(self.train_dir / "model.keras")
        outputs = int(model.output_shape[-1])
        if outputs != len(self.labels):
            raise ConversionError(f"{self.train_dir}: the model has {outputs} outputs but the run names "
                                  f"{len(self.labels)} classes; every label would be wrong. Train the run again.")
        return model

    @cached_property
    def validation(self) -> tuple[list[str], Any, np.ndarray]:
        """(names, items, labels): items are decoded pixels, or the texts of a text model."""
        items, labels = self.split.part("val")
        labels = np.asarray(labels, np.int64)
        n = self.config.verify_images or len(items)
        if self.kind == "text":
            return [f"val[{i}]" for i in range(min(n, len(items)))], list(items[:n]), labels[:n]
        paths = list(items)
        pixels, keep = decode_many(paths[:n], self.size)
        return [paths[i] for i in keep], pixels, labels[:n][keep]

    @cached_property
    def test(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The held-out test images (empty when the run has no test split)."""
        items, labels = self.split.part("test")
        labels = np.asarray(labels, np.int64)
        if self.kind == "text":
            return [f"test[{i}]" for i in range(len(items))], list(items), labels
        paths = list(items)
        if not paths:
            return [], np.zeros((0, self.size, self.size, 3), np.uint8), labels
        pixels, keep = decode_many(paths, self.size)
        return [paths[i] for i in keep], pixels, labels[keep]

    @cached_property
    def calibration(self) -> np.ndarray:
        return self._calibration[0]

    @cached_property
    def _calibration(self) -> tuple[np.ndarray, dict[str, Any]]:
        from ..quantize.calibration import audit, calibration_set

        train, labels = self.split.part("train")
        if self.kind == "text":
            texts = train
            rng = np.random.default_rng(0)
            idx = sorted(int(i) for i in rng.choice(len(texts), size=min(self.config.calibration_images, len(texts)),
                                                    replace=False))
            return (self.tokenizer.batch([texts[i] for i in idx]),
                    audit([labels[i] for i in idx], self.labels, self.config.calibration_images, unit="texts",
                          population=labels))
        pixels, idx = calibration_set(list(train), self.config.calibration_images, self.size)
        if train and all(v == -1 for v in labels):  # runs from before train_labels: the class folder names it
            pos = {c: i for i, c in enumerate(self.labels)}
            labels = [pos.get(Path(p).parent.name, -1) for p in train]
        return pixels, audit([labels[i] for i in idx], self.labels, self.config.calibration_images, population=labels)

    @property
    def calibration_audit(self) -> dict[str, Any]:
        return self._calibration[1]

    @cached_property
    def saved_model(self) -> Path:
        from ..convert.keras_to_tflite import keras_to_saved_model

        return keras_to_saved_model(self.model, Path(self._tmp.name) / "saved_model", signature=self.signature,
                                    bert_form=self.kind == "text")  # what MediaPipe's TextClassifier loads


