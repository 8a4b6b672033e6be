import pytest

from edgetl.config import ExportConfig, Strategy, TrainConfig, apply_overrides, load_yaml
from edgetl.errors import ConfigError


def test_roundtrip_and_enum() -> None:
    c = TrainConfig.from_dict({"data": "x", "strategy": "fine_tune", "augment": "flip,crop", "epochs": "3"})
    assert c.strategy is Strategy.FINE_TUNE and c.augment == ("flip", "crop") and c.epochs == 3
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_unknown_key_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'fine_tune_lr'"):
        TrainConfig.from_dict({"data": "x", "fine_tune_rl": 1e-5})


def test_unknown_strategy_suggests() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'fine_tune'"):
        TrainConfig.from_dict({"data": "x", "strategy": "fine_tun"})


def test_high_fine_tune_lr_refused_with_reason_unless_forced() -> None:
    with pytest.raises(ConfigError, match="catastrophic forgetting"):
        TrainConfig(data="x", fine_tune_lr=1e-2)
    assert TrainConfig(data="x", fine_tune_lr=1e-2, force_lr=True).fine_tune_lr == 1e-2


@pytest.mark.parametrize("kw,match", [
    ({"val_split": 0.95}, "val_split"), ({"dropout": 1.0}, "dropout"), ({"epochs": 0}, "epochs"),
    ({"augment": ("flipp",)}, "Did you mean 'flip'"), ({"fine_tune_layers": 0}, "fine_tune_layers"),
    ({"image_size": 16}, "at least 32"), ({"learning_rate": 0}, "positive"), ({"patience": -1}, "negative"),
    ({"label_smoothing": 0.5}, "label_smoothing"), ({"weight_decay": -0.1}, "weight_decay"),
])
def test_train_config_errors(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(data="x", **kw)


@pytest.mark.parametrize("kw,match", [
    ({"targets": ("tflite:int9",)}, "Did you mean 'tflite:int8'"), ({"targets": ()}, "empty"),
    ({"opset": 19}, "up to 18"), ({"calibration_images": 0}, "calibration_images"),
    ({"onnx_int8_mode": "weird"}, "static"), ({"accuracy_budget": -1}, "negative"),
])
def test_export_config_errors(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ExportConfig(**kw)


def test_type_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="train.epochs: expected int"):
        TrainConfig.from_dict({"data": "x", "epochs": "many"})
    with pytest.raises(ConfigError, match="expected true or false"):
        TrainConfig.from_dict({"data": "x", "strict": "maybe"})


def test_overrides_nested_and_bad() -> None:
    d = apply_overrides({"train": {"epochs": 3}}, ["train.epochs=5", "run_dir=x"])
    assert d == {"train": {"epochs": "5"}, "run_dir": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["oops"])


def test_a_list_override_takes_yaml_flow_syntax_and_commas() -> None:
    from edgetl.config import BenchConfig

    for text in ("[host-cpu, rpi4]", "host-cpu,rpi4", "['host-cpu','rpi4']", " [host-cpu,rpi4] "):
        assert BenchConfig.from_dict({"devices": text}).devices == ("host-cpu", "rpi4"), text
    with pytest.raises(ConfigError, match="bench.devices is empty"):
        BenchConfig.from_dict({"devices": "[]"})


def test_load_yaml_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(lst)


def test_budget_flags_only_beyond_noise() -> None:
    import numpy as np

    from edgetl.export.verify import compare

    def run(n: int, b: int, c: int, budget: float) -> dict:
        labels = np.zeros(n, int)
        ref = np.tile([0.9, 0.1], (n, 1))
        scores = ref.copy()
        scores[:b] = [0.1, 0.9]          # Keras right, artifact wrong
        ref_c = ref.copy()
        ref_c[b:b + c] = [0.1, 0.9]      # Keras wrong, artifact right
        return compare("tflite:int8", scores, ref_c, labels, budget_points=budget)

    one_of_40 = run(40, 1, 0, 2.0)       # one image is 2.5 points: over the budget, but within noise
    assert one_of_40["accuracy_drop_points"] == 2.5 and one_of_40["status"] == "uncertain"
    assert "uncertain" in one_of_40["reason"] and one_of_40["accuracy_drop_ci95_points"][0] < 2.0
    many = run(563, 40, 2, 2.0)          # 6.7 points below on 563 images: over budget
    assert many["status"] == "over budget" and many["accuracy_drop_ci95_points"][0] > 2.0
    assert run(563, 3, 2, 2.0)["status"] == "ok"
    assert run(40, 0, 0, 0.0)["accuracy_drop_ci95_points"] == [0.0, 0.0]


def test_text_only_options_on_an_image_run_are_refused_not_ignored(tmp_path) -> None:
    from edgetl.api import train

    (tmp_path / "cats").mkdir()
    with pytest.raises(ConfigError, match="label_smoothing, weight_decay|weight_decay, label_smoothing"):
        train(TrainConfig(data=str(tmp_path), label_smoothing=0.2, weight_decay=0.0), tmp_path / "run")
    with pytest.raises(ConfigError, match="max_length applies to text training"):
        train(TrainConfig(data=str(tmp_path), max_length=32), tmp_path / "run")


def test_calibration_audit_judges_skew_against_the_training_split() -> None:
    """A class rare in the data is not 'skewed' for being rare; a class the sample misses is, and so is every
    class of a too-small sample judged against an even share when the data's shares are unknown."""
    from edgetl.quantize.calibration import audit

    classes = ["common", "rare", "mid"]
    population = [0] * 900 + [1] * 15 + [2] * 300       # rare: 1.2% of the training split
    sample = [0] * 148 + [1] * 2 + [2] * 50              # 200 drawn in proportion
    ok = audit(sample, classes, 200, unit="texts", population=population)
    assert ok["warnings"] == [] and ok["per_class"] == {"common": 148, "rare": 2, "mid": 50}
    even = audit(sample, classes, 200, unit="texts")       # against an even share (67) both small classes are thin
    assert "rare 2 (expected 67)" in even["warnings"][0] and "mid 50" not in even["warnings"][0]
    missed = audit([0] * 180 + [1] * 20, classes, 200, population=population)  # mid: 300 of 1215 -> 49 expected, got 0
    assert "mid 0 (expected 49)" in missed["warnings"][0] and "training split" in missed["warnings"][0]
    small = audit([0, 1, 2] * 10, classes, 30, population=population)
    assert any("only 30 calibration images" in w for w in small["warnings"])


def test_options_of_one_modality_are_tagged_refused_for_the_other_and_kept_out_of_its_key() -> None:
    from edgetl.config.train import location_options, only_for, refuse_other_modality, train_key

    assert set(only_for("image")) == {"alpha", "image_size", "augment", "early_layer"}
    assert {"max_length", "fine_tune_runs", "text_column"} <= set(only_for("text"))
    cfg = TrainConfig(data="d", alpha=0.35)
    with pytest.raises(ConfigError, match="alpha applies to image training"):
        refuse_other_modality(cfg, "text")
    refuse_other_modality(cfg, "image")
    key = train_key(TrainConfig(data="d", max_length=32), "image")
    assert "max_length" not in key and "alpha" in key and not set(location_options()) & set(key)
    assert train_key(TrainConfig(data="d", max_length=32), "text")["max_length"] == 32
