"""BackboneSpec: each backbone's Keras constructor, sizes, preprocessing and named cut points (no TF)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class BackboneSpec:
    """What edgetl needs to know about one backbone.

    Attributes:
        name: Registry id (``mobilenet_v2``), used on the command line and in weight file names.
        keras_app: Constructor name in ``keras.applications``, or ``edgetl:<name>`` for edgetl's own builders.
        default_size: Default square input size in pixels.
        sizes: Sizes with published ImageNet weights (other sizes >= min_size build, without those weights).
        min_size: Smallest input Keras accepts for this backbone.
        preprocess: ``tf`` ([-1, 1]), ``caffe`` (BGR minus ImageNet mean), ``torch`` (ImageNet mean/std),
            ``lite`` ((x - 127) / 128) or ``raw`` (the Keras model normalizes 0..255 itself).
        alphas: Width multipliers with weights (MobileNets), empty when the backbone has none.
        default_alpha: Width multiplier used when none is given.
        fine_tune_from: First layer unfrozen by ``fine_tune`` when no other cut is given.
        early_layer: Layer whose output feeds the head for ``feature_extraction_early``.
        family: Family name for reports.
        quantization_risk: Why int8 post-training quantization is known to hurt this backbone (activations
            such as swish or hard-swish, squeeze-and-excitation blocks), or None.
    """

    name: str
    keras_app: str
    default_size: int
    sizes: tuple[int, ...]
    min_size: int = 32
    preprocess: str = "tf"
    alphas: tuple[float, ...] = ()
    default_alpha: float | None = None
    fine_tune_from: str | None = None
    early_layer: str | None = None
    family: str = ""
    quantization_risk: str | None = None

    def resolve_size(self, size: int | None) -> int:
        s = size or self.default_size
        if s < self.min_size:
            raise ConfigError(f"{self.name} needs an input of at least {self.min_size} px; got {s}.")
        return s

    def resolve_alpha(self, alpha: float | None) -> float | None:
        if not self.alphas:
            if alpha not in (None, 1.0):
                raise ConfigError(f"{self.name} has no width multiplier (alpha); got alpha={alpha}. Leave it unset.")
            return None
        a = self.default_alpha if alpha is None else float(alpha)
        if a not in self.alphas:
            raise ConfigError(f"{self.name} supports alpha in {list(self.alphas)}; got {a}.")
        return a

    def weights_filename(self, alpha: float | None, size: int) -> str:
        """Offline weights naming scheme: ``<name>[_<alpha>]_<size>_no_top.weights.h5``."""
        a = f"_{alpha:g}" if alpha is not None else ""
        if alpha is not None and float(alpha).is_integer():
            a = f"_{alpha:.1f}"
        return f"{self.name}{a}_{size}_no_top.weights.h5"

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean/std (RGB, on 0..255 pixels) equivalent to this backbone's preprocessing."""
        if self.preprocess == "tf":
            return [127.5] * 3, [127.5] * 3
        if self.preprocess == "torch":
            return [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
        if self.preprocess == "caffe":
            return [123.68, 116.779, 103.939], [1.0, 1.0, 1.0]
        if self.preprocess == "lite":  # EfficientNet-Lite: (pixel - 127) / 128
            return [127.0] * 3, [128.0] * 3
        return [0.0] * 3, [1.0] * 3


_MOBILENET_SIZES = (96, 128, 160, 192, 224)
_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_V3_ALPHAS = (0.75, 1.0)


_V3_RISK = ("hard-swish activations and squeeze-and-excitation blocks, whose ranges int8 post-training "
            "quantization handles badly (published drops of several points for MobileNetV3)")

def _lite(v: int) -> BackboneSpec:
    from .efficientnet_lite import VARIANTS, block_count, stage_repeats

    n, res = block_count(v), VARIANTS[v][2]
    return BackboneSpec(f"efficientnet_lite{v}", f"edgetl:EfficientNetLite{v}", res, (res,), preprocess="lite",
                        fine_tune_from=f"block{n - 3}_expand_conv",
                        early_layer=f"block{sum(stage_repeats(v)[:5]) - 1}_add", family="EfficientNet-Lite")


BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        BackboneSpec("mobilenet_v2", "MobileNetV2", 224, _MOBILENET_SIZES, preprocess="tf", alphas=_V2_ALPHAS,
                     default_alpha=1.0, fine_tune_from="block_13_expand", early_layer="block_13_expand_relu",
                     family="MobileNet"),
        BackboneSpec("mobilenet_v3_small", "MobileNetV3Small", 224, (224,), preprocess="raw", alphas=_V3_ALPHAS,
                     default_alpha=1.0, fine_tune_from="expanded_conv_9_expand", early_layer="expanded_conv_7_add",
                     family="MobileNet", quantization_risk=_V3_RISK),
        BackboneSpec("mobilenet_v3_large", "MobileNetV3Large", 224, (224,), preprocess="raw", alphas=_V3_ALPHAS,
                     default_alpha=1.0, fine_tune_from="expanded_conv_12_expand",
                     early_layer="expanded_conv_11_add", family="MobileNet", quantization_risk=_V3_RISK),
        *[BackboneSpec(f"efficientnet_b{i}", f"EfficientNetB{i}", sz, (sz,), preprocess="raw",
                       fine_tune_from="block7a_expand_conv" if i < 7 else "block7d_expand_conv",
                       early_layer="block6a_expand_activation", family="EfficientNet",
                       quantization_risk="swish activations and squeeze-and-excitation blocks: naive int8 "
                                         "post-training quantization took EfficientNet-B0 from 76.9% to about 22% "
                                         "ImageNet top-1 (published); EfficientNet-Lite removes both for this reason")
          for i, sz in enumerate((224, 240, 260, 300, 380, 456, 528, 600))],
        *[_lite(v) for v in range(5)],
        BackboneSpec("vgg16", "VGG16", 224, (224,), preprocess="caffe", fine_tune_from="block5_conv1",
                     early_layer="block4_pool", family="VGG"),
        BackboneSpec("vgg19", "VGG19", 224, (224,), preprocess="caffe", fine_tune_from="block5_conv1",
                     early_layer="block4_pool", family="VGG"),
        BackboneSpec("resnet50", "ResNet50", 224, (224,), preprocess="caffe", fine_tune_from="conv5_block1_1_conv",
                     early_layer="conv4_block6_out", family="ResNet"),
        BackboneSpec("resnet101", "ResNet101", 224, (224,), preprocess="caffe",
                     fine_tune_from="conv5_block1_1_conv", early_layer="conv4_block23_out", family="ResNet"),
        BackboneSpec("inception_v3", "InceptionV3", 299, (299,), min_size=75, preprocess="tf",
                     fine_tune_from="conv2d_85", early_layer="mixed7", family="Inception"),
    ]
}


def get_spec(name: str) -> BackboneSpec:
    """Look up a backbone by id, with a "did you mean" hint for typos.

    Example:
        >>> get_spec("mobilenet_v2").default_size
        224
    """
    try:
        return BACKBONES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(BACKBONES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown backbone {name!r}.{hint} Known: {', '.join(sorted(BACKBONES))}.") from None
