"""The export stage's config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ConfigError
from ..targets import AFFECTS, DEFAULT_TARGETS
from ..targets import get as get_target
from .base import ConfigBase

EXPORT_TARGETS = DEFAULT_TARGETS  # the default list; every known target is in edgetl.targets.TARGETS


@dataclass(frozen=True, kw_only=True)
class ExportConfig(ConfigBase):
    """Which artifacts to export from a trained run, and how to check them.

    Attributes:
        targets: Formats to produce, e.g. tflite:fp32, tflite:int8, onnx:int8.
        calibration_images: Training images used to calibrate int8 quantization.
        verify_images: Validation images used to compare each artifact with the Keras model (0: all).
        accuracy_budget: Largest allowed top-1 drop (in points) of a quantized artifact below float.
        opset: ONNX opset (tf2onnx supports up to 18).
        onnx_per_channel: Per-channel weight quantization for ONNX int8.
        onnx_int8_mode: static (QDQ with calibration images) or dynamic.
        allow_flex_ops: Allow TensorFlow Select (Flex) ops in TFLite; most edge runtimes lack them.
        golden_images: Validation images whose expected outputs are stored in the contract for selftest.
        author: The model's author in the standard TFLite metadata that phone clients show.
        license: The model's licence (e.g. Apache-2.0) in the standard TFLite metadata.
        round_weights: Activation-aware int8 weight rounding for image models (``edgetl/quantize/rounding.py``):
            the same graph and speed as plain rounding, less error; false: each weight to its nearest step.
        sensitivity_images: Validation images for the per-layer sensitivity table of int8 artifacts (0: none).
        selective: When an int8 artifact is over the budget, keep its most sensitive layers in float (after
            trying calibrations that cost no speed) until the validation drop is within the budget.
        selective_max_slowdown: Stop keeping layers in float when the artifact would be slower than this
            times the plain int8 one (or slower than the float one).
    """

    section: ClassVar[str] = "export"

    # metadata "affects": which targets' cache keys a field enters (edgetl.targets.affects); untagged: all of them
    targets: tuple[str, ...] = field(default=EXPORT_TARGETS, metadata={AFFECTS: "none"})
    calibration_images: int = field(default=200, metadata={AFFECTS: "calibrated"})
    verify_images: int = 0
    accuracy_budget: float = 2.0
    opset: int = field(default=17, metadata={AFFECTS: "format:onnx"})
    onnx_per_channel: bool = field(default=True, metadata={AFFECTS: "target:onnx:int8"})
    onnx_int8_mode: str = field(default="static", metadata={AFFECTS: "target:onnx:int8"})
    allow_flex_ops: bool = field(default=False, metadata={AFFECTS: "format:tflite"})
    golden_images: int = 4
    author: str = ""  # in every contract's card (and the TFLite standard metadata): every key
    license: str = ""
    round_weights: bool = field(default=True, metadata={AFFECTS: "calibrated"})
    sensitivity_images: int = field(default=32, metadata={AFFECTS: "calibrated"})
    selective: bool = field(default=False, metadata={AFFECTS: "calibrated"})
    selective_max_slowdown: float = field(default=1.25, metadata={AFFECTS: "calibrated"})

    def __post_init__(self) -> None:
        self._coerce_fields()
        object.__setattr__(self, "targets", tuple(dict.fromkeys(get_target(t).name for t in self.targets)))
        if not self.targets:
            raise ConfigError("export targets is empty: name at least one, e.g. tflite:fp32.")
        if not 7 <= self.opset <= 18:
            raise ConfigError(f"opset must be between 7 and 18 (tf2onnx 1.17 supports up to 18); got {self.opset}.")
        if self.calibration_images < 1:
            raise ConfigError(f"calibration_images must be at least 1; got {self.calibration_images}.")
        if self.onnx_int8_mode not in ("static", "dynamic"):
            raise ConfigError(f"onnx_int8_mode must be 'static' or 'dynamic'; got {self.onnx_int8_mode!r}.")
        if self.sensitivity_images < 0 or self.selective_max_slowdown < 1.0:
            raise ConfigError("sensitivity_images must not be negative and selective_max_slowdown not below 1.")
        if self.accuracy_budget < 0:
            raise ConfigError(f"accuracy_budget must not be negative; got {self.accuracy_budget}.")
