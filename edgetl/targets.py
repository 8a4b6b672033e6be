"""Export targets: one typed description of each format and precision, asked by every module.

A *target* is ``<format>:<precision>`` (``tflite:int8``). Nothing else in edgetl parses those strings or
branches on a format name: it asks :func:`get` for a :class:`Target` and reads its facts (float or
quantized, calibrated or not, integer I/O, file suffix, runtime, the extra it needs), and the
:data:`FORMATS` table maps each format to the module that exports it and the runtime backend that runs
it. Adding a format is a table entry here, its exporter module (``edgetl/formats/<name>/export.py``) and its
runtime backend (``edgetl/runtime/backends/``).

Stdlib only (layer L0).
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Format:
    """A model file format and what serves it.

    Attributes:
        name: ``tflite``, ``onnx`` or ``openvino``.
        suffix: File suffix of its artifacts.
        runtime: The runtime that runs it (``litert``, ``onnxruntime``): its entry in the runtime's one suffix
            table (``edgetl.runtime.backends.RUNTIMES``) names the backend class, and device profiles name it.
        exporter: ``module`` with the functions of :class:`edgetl.formats.Exporter` (the export side,
            needs the train extra).
        runtime_modules: Python modules the runtime needs (checked before heavy work starts).
        export_modules: Python modules the exporter needs.
        tools: Distributions whose versions change the exported bytes (part of every cache key).
        companions: Suffixes of the files that belong to each artifact beside its main file, with the same stem
            (an OpenVINO IR is ``model.xml`` with its weights in ``model.bin``): they travel, publish and hand off
            with it.
    """

    name: str
    suffix: str
    runtime: str
    exporter: str
    runtime_modules: tuple[str, ...]
    export_modules: tuple[str, ...]
    tools: tuple[str, ...]
    companions: tuple[str, ...] = ()

    def files(self, main: str | Path) -> list[Path]:
        """The files of the artifact whose main file is ``main``: it first, then its companions."""
        p = Path(main)
        return [p, *(p.with_suffix(c) for c in self.companions)]


@dataclass(frozen=True)
class Target:
    """One artifact kind: a format at a precision.

    Attributes:
        precision: fp32, fp16, dynamic, int8, uint8, int16.
        quantized: Weights or activations leave float32 (fp16 counts): judged by the accuracy budget, not by
            the float agreement rule.
        calibrated: Needs calibration images (static activation ranges).
        full_integer: Integer activations and integer I/O (what the Edge TPU and integer NPUs need).
        io_dtype: The model's input dtype.
        description: One line for tables and help.
        activation_bits: Width of the quantized activations of a calibrated target (8, or 16 for 16-bit
            activations with int8 weights, which LiteRT runs on its reference kernels, not XNNPACK).
    """

    format: Format
    precision: str
    quantized: bool
    calibrated: bool
    full_integer: bool
    io_dtype: str
    description: str
    activation_bits: int = 8

    @property
    def name(self) -> str:
        return f"{self.format.name}:{self.precision}"

    @property
    def is_float_reference(self) -> bool:
        """An fp32 artifact: must agree with the Keras model on >= 99.9% of images."""
        return not self.quantized

    @property
    def filename(self) -> str:
        return f"model_{self.precision}{self.format.suffix}"

    def __str__(self) -> str:
        return self.name


# ExportConfig fields say which targets they change, in their dataclass metadata under this key; a field
# without it changes every target (the fail-safe default: a new field can make a cache miss, never a stale hit).
AFFECTS = "affects"
ALL, NONE = "all", "none"


def affects(target: Target, tag: str) -> bool:
    """Whether an option tagged ``tag`` changes the bytes or the verdict of ``target``'s artifact."""
    if tag == ALL:
        return True
    if tag == NONE:
        return False
    kind, _, value = tag.partition(":")
    if kind == "format":
        return target.format.name == value
    if kind == "calibrated":
        return target.calibrated
    if kind == "target":
        return target.name == value
    raise ValueError(f"unknown 'affects' tag {tag!r}")


def key_config(target: Target, config: Any) -> dict[str, Any]:
    """What enters ``target``'s export cache key: the target and every config field that affects it."""
    out: dict[str, Any] = {"target": target.name}
    for f in dataclasses.fields(config):
        if affects(target, f.metadata.get(AFFECTS, ALL)):
            v = getattr(config, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


TFLITE = Format("tflite", ".tflite", "litert", "edgetl.formats.tflite.export", ("ai_edge_litert",),
                ("tensorflow", "keras"),
                ("tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert"))
ONNX = Format("onnx", ".onnx", "onnxruntime", "edgetl.formats.onnx.export", ("onnxruntime",),
              ("tensorflow", "keras", "tf2onnx", "onnx"),
              ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime"))
# OpenVINO IR from the ONNX model (fp32) or from its static QDQ int8 model (int8: FakeQuantize, int8 kernels on CPU)
OPENVINO = Format("openvino", ".xml", "openvino", "edgetl.formats.openvino.export", ("openvino",),
                  ("tensorflow", "keras", "tf2onnx", "onnx", "openvino"),
                  ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "openvino"),
                  companions=(".bin",))
FORMATS: dict[str, Format] = {f.name: f for f in (TFLITE, ONNX, OPENVINO)}

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target(TFLITE, "fp32", False, False, False, "float32", "float32, the reference"),
    Target(TFLITE, "fp16", True, False, False, "float32", "float16 weights (half the size; GPU delegates)"),
    Target(TFLITE, "dynamic", True, False, False, "float32", "int8 weights, float activations"),
    Target(TFLITE, "int8", True, True, True, "int8", "full integer, int8 I/O"),
    Target(TFLITE, "uint8", True, True, True, "uint8", "full integer, uint8 I/O (Edge TPU, camera pixels)"),
    Target(TFLITE, "int16", True, True, False, "float32", "16-bit activations, int8 weights, float32 I/O (where "
           "int8 loses accuracy; fast on NPUs and DSPs that run 16x8, slow on CPU)", activation_bits=16),
    Target(ONNX, "fp32", False, False, False, "float32", "float32, the reference"),
    Target(ONNX, "fp16", True, False, False, "float32", "float16 weights and compute, float32 I/O (GPU providers)"),
    Target(ONNX, "int8", True, True, False, "float32", "static QDQ int8, per-channel weights"),
    Target(OPENVINO, "fp32", False, False, False, "float32", "OpenVINO IR (model.xml + model.bin), float32"),
    Target(OPENVINO, "int8", True, True, False, "float32", "OpenVINO IR of the static QDQ int8 ONNX model "
           "(int8 kernels on x86 and Arm CPUs)"),
)}
DEFAULT_TARGETS = ("tflite:fp32", "tflite:fp16", "tflite:dynamic", "tflite:int8", "tflite:uint8", "onnx:fp32",
                   "onnx:int8")


def get(name: str) -> Target:
    """The target called ``name``; ConfigError with a "did you mean" otherwise."""
    t = TARGETS.get(str(name).strip().lower())
    if t is None:
        close = difflib.get_close_matches(str(name), list(TARGETS), n=1)
        raise ConfigError(f"Unknown export target {name!r}." + (f" Did you mean {close[0]!r}?" if close else "")
                          + f" Known: {', '.join(TARGETS)}.")
    return t


def for_file(path: str, input_dtype: str | None = None, *, quantized_weights: str | None = None) -> Target | None:
    """The target a model file most likely is, from its suffix and input dtype (for files edgetl did not write)."""
    fmt = next((f for f in FORMATS.values() if str(path).lower().endswith(f.suffix)), None)
    if fmt is None:
        return None
    if input_dtype in ("int8", "uint8"):
        precision = input_dtype
    else:
        precision = quantized_weights or "fp32"
    return TARGETS.get(f"{fmt.name}:{precision}") or TARGETS.get(f"{fmt.name}:fp32")


def artifact_files(path: str | Path) -> list[Path]:
    """Every file of the artifact whose main file is ``path`` (itself, and its format's companions)."""
    fmt = next((f for f in FORMATS.values() if str(path).lower().endswith(f.suffix)), None)
    return fmt.files(path) if fmt is not None else [Path(path)]
