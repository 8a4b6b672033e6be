from pathlib import Path

import numpy as np
import pytest

from edgetl.backbones.specs import BACKBONES, get_spec
from edgetl.backbones.weights import resolve_weights
from edgetl.errors import ConfigError, WeightsError
from edgetl.train.metrics import classification_metrics
from edgetl.train.strategy import centroid_accuracy, choose_strategy


def test_backbone_typo_suggests() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'mobilenet_v2'"):
        get_spec("mobilenet_v22")


def test_registry_has_the_promised_backbones() -> None:
    want = {"mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "vgg16", "vgg19", "resnet50", "resnet101",
            "inception_v3"} | {f"efficientnet_b{i}" for i in range(8)}
    assert want <= set(BACKBONES)


def test_alpha_and_size_rules() -> None:
    s = get_spec("mobilenet_v2")
    assert s.resolve_alpha(None) == 1.0 and s.resolve_alpha(0.35) == 0.35
    with pytest.raises(ConfigError, match="alpha in"):
        s.resolve_alpha(0.6)
    with pytest.raises(ConfigError, match="no width multiplier"):
        get_spec("resnet50").resolve_alpha(0.5)
    with pytest.raises(ConfigError, match="at least 75"):
        get_spec("inception_v3").resolve_size(64)


def test_weights_naming_scheme_and_resolution(tmp_path: Path) -> None:
    s = get_spec("mobilenet_v2")
    assert s.weights_filename(1.0, 224) == "mobilenet_v2_1.0_224_no_top.weights.h5"
    assert s.weights_filename(0.35, 128) == "mobilenet_v2_0.35_128_no_top.weights.h5"
    assert get_spec("resnet50").weights_filename(None, 224) == "resnet50_224_no_top.weights.h5"
    (tmp_path / "mobilenet_v2_0.35_128_no_top.weights.h5").write_bytes(b"x")
    src = resolve_weights(s, 0.35, 128, "imagenet", str(tmp_path))
    assert src.kind == "file" and src.path == tmp_path / "mobilenet_v2_0.35_128_no_top.weights.h5"
    assert resolve_weights(s, 1.0, 224, "imagenet", str(tmp_path)).kind == "download"
    assert resolve_weights(s, 1.0, 224, "none", None).kind == "none"
    with pytest.raises(WeightsError, match="does not exist"):
        resolve_weights(s, 1.0, 224, str(tmp_path / "missing.h5"), None)
    with pytest.raises(WeightsError, match="No file named 'mobilenet_v2_1.0_224"):
        resolve_weights(s, 1.0, 224, str(tmp_path), None)


def test_strategy_table() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    separable = np.eye(3)[labels] * 5 + rng.normal(0, 0.3, (120, 3))
    noise = rng.normal(0, 1, (120, 3))
    assert centroid_accuracy(separable, labels) > 0.95 and centroid_accuracy(noise, labels) < 0.6
    assert choose_strategy(separable, noise, labels)["strategy"] == "feature_extraction"
    assert choose_strategy(noise, separable, labels)["strategy"] == "feature_extraction_early"
    big = np.repeat(np.arange(3), 400)
    sep_big = np.eye(3)[big] * 5 + rng.normal(0, 0.3, (1200, 3))
    noise_big = rng.normal(0, 1, (1200, 3))
    c = choose_strategy(sep_big, noise_big, big)
    assert c["strategy"] == "fine_tune" and c["large_data"] and c["train_images_per_class"] == 400
    assert choose_strategy(noise_big, sep_big, big)["strategy"] == "fine_tune_all"


def test_metrics() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(probs, np.array([0, 1, 1]), ["a", "b"])
    assert m["top1"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"]["rows_true_cols_pred"] == [[1, 0], [1, 1]]
    assert m["per_class"]["b"]["recall"] == 0.5 and m["per_class"]["a"]["precision"] == 0.5
    assert "top5" not in m
