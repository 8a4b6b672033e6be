"""The train stage's config."""
from __future__ import annotations

import enum
import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ConfigError
from .base import ConfigBase, _suggest


class Strategy(str, enum.Enum):
    AUTO = "auto"
    FEATURE_EXTRACTION = "feature_extraction"
    FEATURE_EXTRACTION_EARLY = "feature_extraction_early"
    FINE_TUNE = "fine_tune"
    FINE_TUNE_ALL = "fine_tune_all"


AUGMENTATIONS = ("flip", "crop", "rotation", "brightness", "contrast")

# Field metadata. MODALITY: the option applies to one kind of data only ("image" or "text"); an option of the
# other kind is refused, and stays out of that kind's cache key. LOCATION: the option says where inputs are or
# where work runs, not what is trained; the cache key uses the inputs' content instead.
MODALITY, LOCATION = "modality", "location"

# Fine-tuning rates above this destroy pretrained features (catastrophic forgetting).
MAX_SAFE_FINE_TUNE_LR = 1e-3


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

    data: str = field(metadata={LOCATION: True})
    val_data: str | None = field(default=None, metadata={LOCATION: True})
    val_split: float = 0.2
    test_split: float = 0.0
    seed: int = 42
    backbone: str = "mobilenet_v2"
    alpha: float | None = field(default=None, metadata={MODALITY: "image"})
    image_size: int | None = field(default=None, metadata={MODALITY: "image"})
    weights: str = field(default="imagenet", metadata={LOCATION: True})
    weights_dir: str | None = field(default=None, metadata={LOCATION: True})
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
    early_layer: str | None = field(default=None, metadata={MODALITY: "image"})
    force_lr: bool = False
    augment: tuple[str, ...] = field(default=(), metadata={MODALITY: "image"})
    patience: int = 5
    strict: bool = False
    cache_dir: str | None = field(default=None, metadata={LOCATION: True})
    text_column: str = field(default="text", metadata={MODALITY: "text"})
    label_column: str = field(default="label", metadata={MODALITY: "text"})
    max_length: int | None = field(default=None, metadata={MODALITY: "text"})
    fine_tune_embeddings: bool = field(default=True, metadata={MODALITY: "text"})
    weight_decay: float = field(default=0.01, metadata={MODALITY: "text"})
    label_smoothing: float = field(default=0.1, metadata={MODALITY: "text"})
    fine_tune_runs: int = field(default=1, metadata={MODALITY: "text"})
    ray: str | None = field(default=None, metadata={LOCATION: True})
    ray_shard_images: int = field(default=256, metadata={LOCATION: True})
    ray_worker_cpus: int = field(default=1, metadata={LOCATION: True})

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


def only_for(modality: str) -> tuple[str, ...]:
    """The TrainConfig options that apply to ``modality`` ("image" or "text") only."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get(MODALITY) == modality)


def location_options() -> tuple[str, ...]:
    """The TrainConfig options that locate inputs or say where work runs."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get(LOCATION))


def _others(modality: str) -> list[str]:
    from ..modality import MODALITIES

    return [m for m in MODALITIES if m != modality]


def train_key(config: TrainConfig, modality: str) -> dict:
    """What enters a train stage's cache key: every option but the locations and the other modality's options
    (so an image run's key is the same whatever a text option says, and the other way round)."""
    skip = set(location_options()) | {k for other in _others(modality) for k in only_for(other)}
    return {k: v for k, v in config.to_dict().items() if k not in skip}


def refuse_other_modality(config: TrainConfig, modality: str) -> None:
    """Options of the other modality set for a ``modality`` run are refused, not silently ignored."""
    default = TrainConfig(data=config.data)
    changed = [k for other in _others(modality) for k in only_for(other) if getattr(config, k) != getattr(default, k)]
    if changed:
        other = " or ".join(_others(modality))
        raise ConfigError(f"{', '.join(changed)} appl{'ies' if len(changed) == 1 else 'y'} to {other} training; "
                          f"this is {modality} training ({config.data!r}, backbone {config.backbone!r}). Remove "
                          f"{'it' if len(changed) == 1 else 'them'}.")
