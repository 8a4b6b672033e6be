"""The text modality's export inputs: validation and test texts, calibration token ids, the run's tokenizer."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import read_json
from ..config import ExportConfig
from ..export.inputs import ExportInputs
from ..targets import get as get_target
from ..train_record import TrainRecord


class TextExportInputs(ExportInputs):
    def __init__(self, train_dir: Path, config: ExportConfig, record: TrainRecord) -> None:
        super().__init__(train_dir, config, record)
        from ..runtime.tokenizer import WordPieceTokenizer

        self.tokenizer = WordPieceTokenizer.from_dict(read_json(train_dir / "tokenizer.json"))
        bad = [t for t in config.targets if get_target(t).io_dtype == "uint8"]
        if bad:
            from ..errors import ConfigError

            raise ConfigError(f"{', '.join(bad)}: uint8 input is for images; a text model takes token ids. "
                              "Use tflite:int8 (int8 inside, token ids in) instead.")
        # checked on the tests' tiny BERT (2026-12-08): every MatMul of OpenVINO's compiled int8 IR ran in f32
        if "openvino:int8" in config.targets:
            from ..errors import ConfigError

            raise ConfigError("openvino:int8: a text model's int8 ONNX model is dynamic (int8 weights, activations "
                              "quantized at run time), and OpenVINO folds that back to float: the IR would run in "
                              "float32 under an int8 name. Use openvino:fp32, onnx:int8 or tflite:int16 for text.")

    @property
    def signature(self) -> tuple[tuple[int, ...], str, str]:
        return (self.size,), "int32", "tokens"

    def model_input(self, items: Any) -> np.ndarray:
        """Texts as token ids."""
        return self.tokenizer.batch(items)

    def golden_fields(self, items: Any) -> tuple[list[dict[str, Any]], Any]:
        from ..export.contract import text_fields

        return text_fields(items)

    def keras_scores(self, items: Any) -> np.ndarray:
        if not len(items):
            return np.zeros((0, len(self.labels)), np.float32)
        return self.model.predict(self.model_input(items), batch_size=64, verbose=0)

    @cached_property
    def validation(self) -> tuple[list[str], Any, np.ndarray]:
        """(names, texts, labels)."""
        items, labels = self.split.part("val")
        labels = np.asarray(labels, np.int64)
        n = self.config.verify_images or len(items)
        return [f"val[{i}]" for i in range(min(n, len(items)))], list(items[:n]), labels[:n]

    @cached_property
    def test(self) -> tuple[list[str], Any, np.ndarray]:
        items, labels = self.split.part("test")
        return [f"test[{i}]" for i in range(len(items))], list(items), np.asarray(labels, np.int64)

    @cached_property
    def _calibration(self) -> tuple[np.ndarray, dict[str, Any]]:
        from ..quantize.calibration import audit

        texts, labels = self.split.part("train")
        rng = np.random.default_rng(0)
        idx = sorted(int(i) for i in rng.choice(len(texts), size=min(self.config.calibration_images, len(texts)),
                                                replace=False))
        return (self.tokenizer.batch([texts[i] for i in idx]),
                audit([labels[i] for i in idx], self.labels, self.config.calibration_images, unit="texts",
                      population=labels))
