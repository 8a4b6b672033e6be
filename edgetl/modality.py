"""The modalities (image, text) as one typed table: what a room asks of a run's kind instead of testing its name.

A run's kind (``image`` or ``text``) is written once, in its train record and its contract. Every room that does
something different for texts asks :func:`get` for the :class:`Modality` and reads a fact (its integer I/O, whether
weight rounding applies, which MediaPipe task loads its files) or takes the module it names (``export_inputs``:
the loader of validation, test and calibration items). Adding a modality is a table entry here and its modules
(``edgetl/image/``, ``edgetl/text/``).

Stdlib only (layer L0).
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Modality:
    """What one kind of input changes across edgetl.

    Attributes:
        name: What records and contracts call it (``image``, ``text``).
        unit: What reports count (``images``, ``texts``).
        export_inputs: ``module:Class`` of its ``edgetl.export.inputs.ExportInputs`` (items, calibration, model input).
        integer_io: A full-integer TFLite file has integer input and output (pixels; token ids stay int32 in and
            scores float out for text).
        integer_inputs: The model takes integers (token ids): calibration inputs keep their dtype.
        rounds_weights: Activation-aware int8 weight rounding applies (measured on image backbones).
        onnx_int8_mode: The ONNX int8 mode it needs (``dynamic`` for text), or None for the config's.
        selective: Per-layer sensitivity and selective quantization apply.
        mediapipe_task: The MediaPipe Tasks classifier that loads its TFLite files.
        bert_form: The TFLite file takes BERT's three inputs (ids, mask, segment ids), as MediaPipe's text task does.
        wide_integer_tolerance: Its full-integer files' golden scores move more between CPUs (integer attention and
            normalization kernels differ), so ``selftest()`` allows the wider tolerance.
        tflite_use: Which apps load its float and uint8 TFLite files (``edgetl artifacts``' ``for`` column).
        bench_eval_set: ``module:function`` that builds the eval items ``edgetl bench`` scores.
    """

    name: str
    unit: str
    export_inputs: str
    integer_io: bool
    integer_inputs: bool
    rounds_weights: bool
    onnx_int8_mode: str | None
    selective: bool
    mediapipe_task: str
    bert_form: bool
    wide_integer_tolerance: bool
    tflite_use: str
    bench_eval_set: str

    def plugin(self, attr: str) -> Any:
        """The object that ``attr`` (``export_inputs``) names, imported on first use."""
        module, _, name = getattr(self, attr).partition(":")
        return getattr(importlib.import_module(module), name)


IMAGE = Modality("image", "images", "edgetl.image.export_inputs:ImageExportInputs", integer_io=True, integer_inputs=False,
                 rounds_weights=True, onnx_int8_mode=None, selective=True, mediapipe_task="ImageClassifier",
                 bert_form=False, wide_integer_tolerance=False,
                 tflite_use="phone apps (MediaPipe Tasks, LiteRT Task Library: metadata and labels inside), edgetl's "
                            "runtime, a Pi", bench_eval_set="edgetl.bench.runner:image_eval_set")
TEXT = Modality("text", "texts", "edgetl.text.export_inputs:TextExportInputs", integer_io=False, integer_inputs=True,
                rounds_weights=False, onnx_int8_mode="dynamic", selective=False, mediapipe_task="TextClassifier",
                bert_form=True, wide_integer_tolerance=True,
                tflite_use="phone apps (MediaPipe TextClassifier: BERT inputs ids, mask, segment_ids; WordPiece "
                           "vocabulary and labels inside), edgetl's runtime, a Pi",
                bench_eval_set="edgetl.bench.runner:text_eval_set")
MODALITIES: dict[str, Modality] = {m.name: m for m in (IMAGE, TEXT)}


def get(kind: str | None) -> Modality:
    """The modality called ``kind`` (None: image, what runs before the record said its kind were)."""
    m = MODALITIES.get(kind or "image")
    if m is None:
        close = difflib.get_close_matches(str(kind), list(MODALITIES), n=1)
        raise ConfigError(f"Unknown kind {kind!r}." + (f" Did you mean {close[0]!r}?" if close else "")
                          + f" Known: {', '.join(MODALITIES)}.")
    return m
