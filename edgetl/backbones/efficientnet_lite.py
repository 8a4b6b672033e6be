"""EfficientNet-Lite0..4 in Keras (channels-last): EfficientNet without squeeze-and-excitation, with ReLU6,
and a fixed 32-filter stem and 1280-filter head, as Google's EfficientNet-Lite for mobile and Edge TPU.

Padding is TensorFlow "same" (asymmetric for stride 2), which is what the published checkpoints were
trained with.
"""
from __future__ import annotations

import math
from typing import Any

# (repeats, kernel, stride, expand, in, out) of EfficientNet-B0's seven stages
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# variant: (width, depth, resolution, dropout)
VARIANTS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 280, 0.3),
            4: (1.4, 1.8, 300, 0.3)}
BN_EPSILON = 1e-3


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    f = filters * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def stage_repeats(variant: int) -> list[int]:
    """Repeats per stage; Lite keeps the first and last stage unscaled."""
    depth = VARIANTS[variant][1]
    last = len(STAGES) - 1
    return [r if i in (0, last) else int(math.ceil(depth * r)) for i, (r, *_) in enumerate(STAGES)]


def block_count(variant: int) -> int:
    return sum(stage_repeats(variant))


def EfficientNetLite(variant: int, *, input_shape: tuple[int, int, int] | None = None, include_top: bool = False,
                     classes: int = 1000) -> Any:
    """Build EfficientNet-Lite``variant`` taking inputs already normalized as (pixel - 127) / 128."""
    import keras
    from keras import layers

    width, _, res, dropout = VARIANTS[variant]
    shape = input_shape or (res, res, 3)
    inp = keras.Input(shape, name="input")

    def bn(name: str) -> Any:
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)

    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inp)
    x = layers.ReLU(6.0, name="stem_relu")(bn("stem_bn")(x))
    b = 0
    for (_, k, s, e, fin, fout), reps in zip(STAGES, stage_repeats(variant)):
        fin, fout = round_filters(fin, width), round_filters(fout, width)
        for r in range(reps):
            stride, cin = (s, fin) if r == 0 else (1, fout)
            p = f"block{b}_"
            h = x
            if e != 1:
                h = layers.Conv2D(cin * e, 1, padding="same", use_bias=False, name=p + "expand_conv")(h)
                h = layers.ReLU(6.0, name=p + "expand_relu")(bn(p + "expand_bn")(h))
            h = layers.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False, name=p + "dwconv")(h)
            h = layers.ReLU(6.0, name=p + "dw_relu")(bn(p + "dw_bn")(h))
            h = layers.Conv2D(fout, 1, padding="same", use_bias=False, name=p + "project_conv")(h)
            h = bn(p + "project_bn")(h)
            if stride == 1 and cin == fout:
                h = layers.Add(name=p + "add")([h, x])
            x = h
            b += 1
    x = layers.Conv2D(1280, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = layers.ReLU(6.0, name="top_relu")(bn("top_bn")(x))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, name="predictions")(x)  # logits, as the checkpoint's classifier
    return keras.Model(inp, x, name=f"efficientnet_lite{variant}")
