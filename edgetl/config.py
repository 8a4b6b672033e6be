"""Typed, frozen configs for each stage (TrainConfig, ExportConfig, BenchConfig, PipelineConfig).

Configs hold plain types only (no TensorFlow types), check cross-field rules in ``__post_init__``,
reject unknown keys with a "did you mean" hint, and round-trip through ``to_dict``/``from_dict``.
"""
from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import ConfigError
from .targets import AFFECTS, DEFAULT_TARGETS
from .targets import get as get_target

C = TypeVar("C", bound="ConfigBase")


class Strategy(str, enum.Enum):
    AUTO = "auto"
    FEATURE_EXTRACTION = "feature_extraction"
    FEATURE_EXTRACTION_EARLY = "feature_extraction_early"
    FINE_TUNE = "fine_tune"
    FINE_TUNE_ALL = "fine_tune_all"


AUGMENTATIONS = ("flip", "crop", "rotation", "brightness", "contrast")
EXPORT_TARGETS = DEFAULT_TARGETS  # the default list; every known target is in edgetl.targets.TARGETS

# Fine-tuning rates above this destroy pretrained features (catastrophic forgetting).
MAX_SAFE_FINE_TUNE_LR = 1e-3


def _suggest(name: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/JSON/CLI value into the annotated plain type, or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        return _coerce(value, args[0], key)
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, received {value!r}.")
        return tuple(_coerce(v, inner, key) for v in value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            known = [m.value for m in tp]
            raise ConfigError(f"{key}: unknown value {value!r}.{_suggest(str(value), known)} "
                              f"Known: {', '.join(known)}.") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{key}: expected true or false, received {value!r}.")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, received {value!r}.")
        try:
            out = tp(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: expected {tp.__name__}, received {value!r}.") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise ConfigError(f"{key}: expected a finite number, received {value!r}.")
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key}: expected an integer, received {value!r}.")
        return out
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected text, received {value!r}.")
        return str(value)
    return value


@dataclass(frozen=True, kw_only=True)
class ConfigBase:
    """Shared from_dict/to_dict/override logic."""

    section: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[C], data: typing.Mapping[str, Any] | None) -> C:
        data = dict(data or {})
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [str(k) for k in data if not isinstance(k, str) or k not in names]
        if unknown:
            k = unknown[0]
            raise ConfigError(f"Unknown {cls.section or cls.__name__} option {k!r}.{_suggest(k, names)} "
                              f"Known: {', '.join(names)}.")
        missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING and f.name not in data]
        if missing:
            where = f"{cls.section}.{missing[0]}" if cls.section else missing[0]
            raise ConfigError(f"{where} is required: {cls._describe(missing[0])}. Give it as --{missing[0].replace('_', '-')}"
                              f" (command line), under '{cls.section}:' in the YAML file, or with --set {where}=...")
        kwargs = {k: _coerce(v, hints[k], f"{cls.section}.{k}" if cls.section else k) for k, v in data.items()}
        return cls(**kwargs)

    @classmethod
    def _describe(cls, name: str) -> str:
        """The field's line from the class docstring's Attributes section."""
        for line in (cls.__doc__ or "").splitlines():
            if line.strip().startswith(f"{name}:"):
                return line.strip()[len(name) + 1:].strip().rstrip(".").lower()
        return "no default"

    def _coerce_fields(self) -> None:
        """Let the Python API take the same plain values as YAML ("fine_tune", ["flip"], "3")."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            key = f"{self.section}.{f.name}" if self.section else f.name
            object.__setattr__(self, f.name, _coerce(v, hints[f.name], key))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, enum.Enum):
                v = v.value
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def replace(self: C, **changes: Any) -> C:
        merged = self.to_dict() | changes
        return type(self).from_dict(merged)


@dataclass(frozen=True, kw_only=True)
class TrainConfig(ConfigBase):
    """How to train a classifier on a class-folder dataset.

    Attributes:
        data: Folder with one sub-folder of images per class.
        val_data: Optional separate validation folder (same class names); otherwise a seeded split.
        val_split: Fraction of each class held out for validation when val_data is not given.
        test_split: Fraction of each class held out as a test set (never used for training, early stopping or
            choosing what stays float in quantization); reports give accuracy on it separately. 0: no test set.
        seed: Seed for the split, initial weights and shuffling.
        backbone: Backbone id from the registry (``edgetl backbones``).
        alpha: Width multiplier for MobileNet backbones (None: the backbone's default).
        image_size: Square input size in pixels (None: the backbone's default).
        weights: ``imagenet`` (download, or found in weights_dir), ``none``, or a path to a weights file.
        weights_dir: Folder searched for ``<keras_name>_<alpha>_<size>_no_top.weights.h5`` before downloading.
        strategy: auto, feature_extraction, feature_extraction_early, fine_tune or fine_tune_all.
        head_units: Units of the hidden Dense layer of the head (0: no hidden layer).
        dropout: Dropout rate before the classifier.
        epochs: Maximum epochs for the head (early stopping restores the best).
        batch_size: Batch size for training and feature extraction.
        learning_rate: Learning rate for the head.
        fine_tune_epochs: Maximum epochs of fine-tuning after the head has trained.
        fine_tune_lr: Learning rate while fine-tuning (keep it small: 1e-5 to 1e-4).
        fine_tune_layers: Unfreeze the top N backbone layers (None: the backbone's default cut).
        fine_tune_from: Unfreeze from this named backbone layer upwards (overrides fine_tune_layers).
        early_layer: Layer whose output feeds the head for feature_extraction_early (None: the spec's).
        force_lr: Allow a fine-tuning rate above 1e-3.
        augment: Augmentations: flip, crop, rotation, brightness, contrast.
        patience: Early-stopping patience in epochs, on validation accuracy (text fine-tuning runs its planned
            epochs instead: its rate decays to zero and the last epoch's weights are kept).
        strict: Refuse the dataset if any file is unreadable instead of skipping it.
        cache_dir: Where decoded images and backbone features are cached (None: ~/.cache/edgetl).
        text_column: Column of the text in a CSV/TSV/JSONL text dataset.
        label_column: Column of the label in a CSV/TSV/JSONL text dataset.
        max_length: Tokens per text for text models (None: the 95th percentile of the training texts, capped).
        fine_tune_embeddings: Text models fine-tuned in every layer: also train the token embeddings (on: the
            better validation accuracy on TREC-6, benchmarks/results/text_sweep.json; off keeps the pretrained
            vocabulary as it is and fine-tunes 10% faster).
        weight_decay: Text fine-tuning: AdamW's decoupled weight decay (0.01, the BERT recipe; 0: plain Adam).
        label_smoothing: Text fine-tuning: the target puts 1 - e on the label and spreads e over the classes
            (0.1 by default; 0: hard labels). Both were measured on TREC-6: benchmarks/results/text_sweep.json.
        fine_tune_runs: Text fine-tuning: this many runs from the same start with seeds seed, seed+1, ..., their
            weights averaged into one model (a uniform model soup: the same size and speed, N times the
            fine-tuning time); metrics.json gives each run's accuracy next to the average's.
        ray: Compute the backbone features on this Ray cluster (HOST:PORT of the head, or auto for one started on
            this machine); needs edgetl[distributed]. The images must be at the same path on every node.
        ray_shard_images: Images per unit of work on Ray (the most a dying worker loses).
        ray_worker_cpus: CPUs each Ray worker reserves and uses.
    """

    section: ClassVar[str] = "train"

    data: str
    val_data: str | None = None
    val_split: float = 0.2
    test_split: float = 0.0
    seed: int = 42
    backbone: str = "mobilenet_v2"
    alpha: float | None = None
    image_size: int | None = None
    weights: str = "imagenet"
    weights_dir: str | None = None
    strategy: Strategy = Strategy.AUTO
    head_units: int = 256
    dropout: float = 0.5
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    fine_tune_epochs: int = 10
    fine_tune_lr: float = 1e-5
    fine_tune_layers: int | None = None
    fine_tune_from: str | None = None
    early_layer: str | None = None
    force_lr: bool = False
    augment: tuple[str, ...] = ()
    patience: int = 5
    strict: bool = False
    cache_dir: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    max_length: int | None = None
    fine_tune_embeddings: bool = True
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    fine_tune_runs: int = 1
    ray: str | None = None
    ray_shard_images: int = 256
    ray_worker_cpus: int = 1

    def __post_init__(self) -> None:
        self._coerce_fields()
        if self.max_length is not None and not 8 <= self.max_length <= 512:
            raise ConfigError(f"max_length must be between 8 and 512 tokens; got {self.max_length}.")
        if self.ray_shard_images < 1 or self.ray_worker_cpus < 1:
            raise ConfigError("ray_shard_images and ray_worker_cpus must be at least 1.")
        if not 0.0 < self.val_split < 0.9 and self.val_data is None:
            raise ConfigError(f"val_split must be between 0 and 0.9; got {self.val_split}.")
        if not 0.0 <= self.test_split < 0.5:
            raise ConfigError(f"test_split must be in [0, 0.5); got {self.test_split}.")
        if not 0.0 <= self.weight_decay < 1.0 or not 0.0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"weight_decay must be in [0, 1) and label_smoothing in [0, 0.5); got "
                              f"{self.weight_decay} and {self.label_smoothing}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {self.dropout}.")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if not 1 <= self.fine_tune_runs <= 16:
            raise ConfigError(f"fine_tune_runs must be between 1 and 16; got {self.fine_tune_runs}.")
        if self.fine_tune_epochs < 0 or self.head_units < 0 or self.patience < 0:
            raise ConfigError("fine_tune_epochs, head_units and patience must not be negative.")
        if self.fine_tune_lr <= 0 or self.learning_rate <= 0:
            raise ConfigError("learning rates must be positive.")
        if self.fine_tune_lr > MAX_SAFE_FINE_TUNE_LR and not self.force_lr:
            raise ConfigError(
                f"fine_tune_lr={self.fine_tune_lr:g} is above {MAX_SAFE_FINE_TUNE_LR:g}: rates that high overwrite "
                "the pretrained features (catastrophic forgetting) and usually end below the frozen-backbone "
                "accuracy. Use 1e-5 to 1e-4, or pass force_lr=true if you really mean it.")
        for a in self.augment:
            if a not in AUGMENTATIONS:
                raise ConfigError(f"Unknown augmentation {a!r}.{_suggest(a, AUGMENTATIONS)} "
                                  f"Known: {', '.join(AUGMENTATIONS)}.")
        if self.fine_tune_layers is not None and self.fine_tune_layers < 1:
            raise ConfigError(f"fine_tune_layers must be at least 1; got {self.fine_tune_layers}.")
        if self.image_size is not None and self.image_size < 32:
            raise ConfigError(f"image_size must be at least 32 (Keras backbones need it); got {self.image_size}.")


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


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) config file into a dict, with errors that name the file (see ``safe_yaml``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file {str(p)!r} does not exist. Check the path.")
    from .safe_yaml import load_mapping

    return load_mapping(p, "Config file") or {}


def apply_overrides(data: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Apply ``key=value`` (or ``section.key=value``) overrides to a nested dict, returning a new dict."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value; received {item!r}.")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section.")
        node[parts[-1]] = value
    return out


@dataclass(frozen=True, kw_only=True)
class BenchConfig(ConfigBase):
    """The benchmark step of a pipeline (and the options of ``edgetl bench``).

    Attributes:
        devices: Device profiles: built-in names (``edgetl devices list``) or paths of your own .yaml files.
        threads: Thread counts for the devices edgetl measures (empty: each profile's own list). Boards that
            cannot be reached keep their profile's threads for their estimates; Edge TPU boards run one thread.
        max_images: Cap on the accuracy images (0: the whole validation split).
        remeasure: Measure again even if a finished benchmark of the same artifacts and devices exists.
    """

    section: ClassVar[str] = "bench"

    devices: tuple[str, ...] = ("host-cpu",)
    threads: tuple[int, ...] = ()
    max_images: int = 0
    remeasure: bool = field(default=False, metadata={"cache": False})

    def __post_init__(self) -> None:
        self._coerce_fields()
        if not self.devices:
            raise ConfigError("bench.devices is empty: name at least one profile, e.g. host-cpu.")
        if any(t < 1 or t > 256 for t in self.threads):
            raise ConfigError(f"bench.threads must be between 1 and 256; got {list(self.threads)}.")
        if self.max_images < 0:
            raise ConfigError(f"bench.max_images must not be negative; got {self.max_images}.")

    def profiles(self) -> list[Any]:
        """Load and validate every device profile (fast: no model, no TensorFlow)."""
        from .devices import load_profile

        return [load_profile(d) for d in self.devices]


PIPELINE_SECTIONS = ("run_dir", "train", "export", "bench")
_PATH_KEYS = ("data", "val_data", "weights_dir", "cache_dir")


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """A whole run from one YAML file: train, export and (optionally) bench.

    Attributes:
        run_dir: The run folder (relative paths in a file are relative to that file).
        train: The train section.
        export: The export section (defaults when absent).
        bench: The bench section (no benchmark step when absent).
    """

    run_dir: str = "runs/pipeline"
    train: TrainConfig
    export: ExportConfig = field(default_factory=ExportConfig)
    bench: BenchConfig | None = None

    @classmethod
    def from_dict(cls, raw: typing.Mapping[str, Any] | None, *, base: str | Path | None = None,
                  overrides: typing.Iterable[str] = (), source: str = "pipeline config") -> "PipelineConfig":
        """Build from a YAML document: paths in it relative to ``base``; ``--set`` overrides relative to the cwd."""
        raw = dict(raw or {})
        unknown = [str(k) for k in raw if k not in PIPELINE_SECTIONS]
        if unknown:
            raise ConfigError(f"{source}: unknown section {unknown[0]!r}.{_suggest(unknown[0], PIPELINE_SECTIONS)} "
                              f"Known: {', '.join(PIPELINE_SECTIONS)}.")
        for sec in ("train", "export", "bench"):
            if raw.get(sec) is not None and not isinstance(raw[sec], dict):
                raise ConfigError(f"{source}: section {sec!r} must be a mapping of options; found "
                                  f"{type(raw[sec]).__name__}.")
        if "train" not in raw or raw["train"] is None:
            raise ConfigError(f"{source}: the 'train' section is missing or empty; it needs at least 'data:' (a "
                              "folder of class sub-folders).")
        base_dir = Path(base) if base is not None else Path.cwd()
        data = json.loads(json.dumps(raw))
        for key in _PATH_KEYS:
            if key in data["train"]:
                data["train"][key] = _relative_to(base_dir, data["train"][key])
        if "run_dir" in data:
            data["run_dir"] = _relative_to(base_dir, data["run_dir"])
        before = json.loads(json.dumps(data))
        data = apply_overrides(data, overrides)
        for key in _PATH_KEYS:  # paths given with --set are relative to the current folder
            v = data["train"].get(key)
            if isinstance(v, str) and v != before["train"].get(key) and not v.startswith("download:"):
                data["train"][key] = str(Path(v).expanduser().resolve())
        bench = data.get("bench")
        return cls(run_dir=str(data.get("run_dir") or "runs/pipeline"), train=TrainConfig.from_dict(data["train"]),
                   export=ExportConfig.from_dict(data.get("export") or {}),
                   bench=BenchConfig.from_dict(bench) if bench is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "train": self.train.to_dict(), "export": self.export.to_dict(),
                **({"bench": self.bench.to_dict()} if self.bench else {})}


def _relative_to(base: Path, value: Any) -> Any:
    if not isinstance(value, str) or value.startswith("download:") or Path(value).expanduser().is_absolute():
        return value
    return str((base / value).resolve())
