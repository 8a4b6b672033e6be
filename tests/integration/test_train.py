"""Training on tiny real models (random weights, generated images) and on the real flowers subset."""
import json
from pathlib import Path

import numpy as np
import pytest

from edgetl import TrainConfig
from edgetl.api import train
from edgetl.api import find_stage

from ..conftest import TINY_TRAIN

pytestmark = pytest.mark.tf
keras = pytest.importorskip("keras")


def test_run_folder_has_everything(tiny_run: Path) -> None:
    d = find_stage(tiny_run, "train")
    for f in ("model.keras", "labels.txt", "config.json", "history.json", "history.png", "metrics.json", "split.json",
              "stage.json", "log.txt"):
        assert (d / f).is_file(), f
    m = json.loads((d / "metrics.json").read_text())
    assert m["strategy"]["strategy"] == "fine_tune" and m["fine_tune"]["batchnorm_statistics_unchanged"]
    assert set(m["validation"]["per_class"]) == {"cyan", "magenta", "yellow"}
    assert np.array(m["validation"]["confusion_matrix"]["rows_true_cols_pred"]).sum() == m["validation"]["images"]
    stage = json.loads((d / "stage.json").read_text())
    assert len(stage["outputs"]["model"]["sha256"]) == 64 and "keras" in stage["tools"]
    assert (d / "labels.txt").read_text().split() == ["cyan", "magenta", "yellow"]


def test_batchnorm_statistics_do_not_move_during_fine_tuning(tiny_run: Path) -> None:
    """keras-team/keras#20285: with weights=none the moving statistics start at 0/1 and must stay there."""
    model = keras.models.load_model(find_stage(tiny_run, "train") / "model.keras", compile=False)
    bns = [l for l in model.get_layer("mobilenetv2_0.35_32").layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) > 40
    for bn in bns:
        assert np.all(np.asarray(bn.moving_mean) == 0) and np.all(np.asarray(bn.moving_variance) == 1), bn.name
    # and the fine-tuned layers really changed: the trained model differs from a fresh one at the top
    history = json.loads((find_stage(tiny_run, "train") / "history.json").read_text())
    assert [r["phase"] for r in history].count("fine_tune") == 2


def test_rerun_reuses_the_stage(tiny_run: Path, color_dataset: Path) -> None:
    r = train(TrainConfig(data=str(color_dataset), strategy="fine_tune", **TINY_TRAIN), tiny_run, progress=False)
    assert r.cached


@pytest.mark.parametrize("strategy,augment", [
    ("feature_extraction", ()), pytest.param("feature_extraction_early", (), marks=pytest.mark.slow),
    pytest.param("fine_tune_all", (), marks=pytest.mark.slow),
    pytest.param("feature_extraction", ("flip", "brightness"), marks=pytest.mark.slow)])
def test_other_strategies_train_and_report(strategy: str, augment: tuple, color_dataset: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(color_dataset), strategy=strategy, augment=augment,
                      **{**TINY_TRAIN, "fine_tune_epochs": 1, "epochs": 2})
    r = train(cfg, tmp_path, progress=False)
    m = json.loads((r.out_dir / "metrics.json").read_text())
    cm = np.asarray(m["validation"]["confusion_matrix"]["rows_true_cols_pred"])
    assert m["strategy"]["strategy"] == strategy and cm.sum() == m["data"]["val_images"]
    assert m["validation"]["top1"] == pytest.approx(np.trace(cm) / cm.sum())
    model = keras.models.load_model(r.outputs["model"].path, compile=False)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 3)


def test_cached_features_train_the_same_model_that_is_saved(real_run: Path) -> None:
    """The head learns on cached features; the saved full model must score exactly what training saw."""
    d = find_stage(real_run, "train")
    hist = json.loads((d / "history.json").read_text())
    m = json.loads((d / "metrics.json").read_text())
    assert max(r["val_accuracy"] for r in hist) == pytest.approx(m["validation"]["top1"], abs=1e-6)
    assert m["validation"]["top1"] >= 0.75  # real ImageNet features separate flowers; random would be ~0.2


def test_clean_cut_points_of_mobilenet_v2() -> None:
    from edgetl.backbones.build import clean_cuts, cut_below

    m = keras.applications.MobileNetV2(alpha=0.35, include_top=False, input_shape=(32, 32, 3), weights=None)
    cuts = set(clean_cuts(m))
    assert {"block_12_add", "block_13_expand", "block_16_project_BN"} <= cuts
    # inside residual blocks: block_11_add (and block_10's output) is still read by block_12_add
    assert "block_12_expand_relu" not in cuts and "block_11_project_BN" not in cuts
    assert "block_11_add" in cuts and "block_10_project_BN" in cuts
    assert cut_below(m, "block_13_expand") == "block_12_add"
    assert cut_below(m, "block_12_project") == "block_11_add"


def test_caffe_backbones_take_rgb_like_keras_preprocess_input() -> None:
    """VGG/ResNet expect BGR minus the mean; edgetl folds the channel swap into the first convolution."""
    from edgetl.backbones.build import build_backbone, preprocessing_layer
    from edgetl.backbones.specs import get_spec
    from edgetl.backbones.weights import WeightsSource

    spec = get_spec("vgg16")
    keras.utils.set_random_seed(1)
    ours = build_backbone(spec, alpha=None, size=32, weights=WeightsSource("none")).model
    keras.utils.set_random_seed(1)
    ref = keras.applications.VGG16(include_top=False, input_shape=(32, 32, 3), weights=None)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    got = ours(preprocessing_layer(spec)(x))
    want = ref(keras.applications.vgg16.preprocess_input(x.copy()))
    assert np.allclose(got, want, rtol=1e-4, atol=1e-3)


def test_offline_imagenet_download_error_says_how_to_supply_weights(color_dataset: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from edgetl.errors import WeightsError

    monkeypatch.delenv("EDGETL_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline(*a, **k):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    cfg = TrainConfig(data=str(color_dataset), **{**TINY_TRAIN, "weights": "imagenet", "alpha": 1.0, "image_size": 96})
    with pytest.raises(WeightsError, match="--weights-dir FOLDER.*mobilenet_v2_1.0_96_no_top.weights.h5|mobilenet_v2_1.0_96_no_top.weights.h5.*--weights-dir"):
        train(cfg, tmp_path / "run", progress=False)


def test_cli_train_json_prints_only_json(color_dataset: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edgetl.cli.main import cli

    args = ["train", "--data", str(color_dataset), "--backbone", "mobilenet_v2", "--alpha", "0.35",
            "--image-size", "32", "--weights", "none", "--strategy", "feature_extraction", "--epochs", "2",
            "--out", str(tmp_path), "--json"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)  # Keras progress must not leak into stdout
    assert d["strategy"]["strategy"] == "feature_extraction" and d["validation"]["images"] > 0
    assert d["validation"]["top1"] == pytest.approx(json.loads((Path(d["stage_dir"]) / "metrics.json").read_text())
                                                    ["validation"]["top1"])
