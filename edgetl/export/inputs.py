"""What every export stage of one run shares, loaded once: the train record, the Keras model, the validation,
test and calibration items, the SavedModel.

:meth:`ExportInputs.open` reads the run's train record and builds the class its modality names
(``edgetl.modality``: ``edgetl/image/export_inputs.py``, ``edgetl/text/export_inputs.py``); this base class is
the same for every modality.
"""
from __future__ import annotations

import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ExportConfig
from ..modality import Modality
from ..modality import get as get_modality
from ..train_record import TrainRecord
from ..train_record import read as read_record


def load_keras(path: Path) -> Any:
    from ..model_io import load_keras as load

    return load(path)


class ExportInputs:
    """What every export stage of one run shares, loaded once: the Keras model, its items, the SavedModel.

    A modality's subclass gives ``signature``, ``model_input``, ``keras_scores``, ``validation``, ``test`` and
    ``_calibration``."""

    tokenizer: Any = None

    @classmethod
    def open(cls, train_dir: Path, config: ExportConfig) -> "ExportInputs":
        """The run's inputs, in the class of its modality."""
        try:
            record = read_record(train_dir)
        except ValueError as exc:
            from ..errors import ConfigError

            raise ConfigError(f"{exc}: export reads a run folder that edgetl train wrote; train it again.") from exc
        return get_modality(record.kind).plugin("export_inputs")(train_dir, config, record)

    def __init__(self, train_dir: Path, config: ExportConfig, record: TrainRecord) -> None:
        self.train_dir = train_dir
        self.config = config
        self.record = record
        self.split = record.split
        # metrics.json (JSON) is the source of the labels; labels.txt is for people and other tools
        self.labels = record.classes
        self.size = record.input_size  # pixels, or tokens for a text model
        self.modality: Modality = get_modality(record.kind)
        self._tmp = tempfile.TemporaryDirectory(prefix="edgetl-export-")
        self.rounding: dict[str, dict[str, Any]] = {}  # target -> what its weight rounding chose (the exporters')

    @property
    def signature(self) -> tuple[tuple[int, ...], str, str]:
        """The model input without the batch: (shape, dtype, name)."""
        raise NotImplementedError

    def model_input(self, items: Any) -> np.ndarray:
        """What the Keras model takes for validation items."""
        raise NotImplementedError

    def keras_scores(self, items: Any) -> np.ndarray:
        raise NotImplementedError

    def golden_fields(self, items: Any) -> tuple[list[dict[str, Any]], Any]:
        """What a golden item stores (``edgetl.export.contract.golden_entries``) and the items as read back."""
        raise NotImplementedError

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
    def calibration(self) -> np.ndarray:
        return self._calibration[0]

    @cached_property
    def _calibration(self) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    @property
    def calibration_audit(self) -> dict[str, Any]:
        return self._calibration[1]

    @cached_property
    def saved_model(self) -> Path:
        from ..formats.tflite.convert import keras_to_saved_model

        # bert_form: the three BERT inputs, what MediaPipe's TextClassifier loads
        return keras_to_saved_model(self.model, Path(self._tmp.name) / "saved_model", signature=self.signature,
                                    bert_form=self.modality.bert_form)
