"""The over-budget warning of a quantized artifact: cause and next command read from its own report."""
from __future__ import annotations

from edgetl.config import ExportConfig
from edgetl.export.advice import over_budget_warning
from edgetl.targets import get


def _report(drop: float, **extra: object) -> dict:
    return {"accuracy_drop_points": drop, "images": 400, "accuracy_drop_ci95_points": [drop - 1.5, drop + 1.5],
            "calibration": {"images": 120, "unit": "images", "ranges": {"tensors_exceeded": 3},
                            "weight_rounding": {"enabled": True, "chosen": "clip"}}, **extra}


def test_within_the_budget_there_is_no_warning() -> None:
    cfg = ExportConfig(accuracy_budget=2.0)
    assert over_budget_warning(get("tflite:int8"), _report(1.9), cfg, "runs/x") is None
    assert over_budget_warning(get("tflite:fp32"), _report(5.0), cfg, "runs/x") is None  # float: another rule


def test_an_int8_artifact_over_its_budget_names_causes_and_commands() -> None:
    w = over_budget_warning(get("tflite:int8"), _report(3.2), ExportConfig(accuracy_budget=2.0), "runs/x")
    assert w.startswith("3.20 points below the float model on 400 validation images")
    assert "within noise of the budget" in w and "120 calibration images" in w and "3 activation tensor(s)" in w
    for cmd in ("edgetl export runs/x --to tflite:int8 --calibration-images 500",
                "edgetl export runs/x --to tflite:int8 --set round_weights=false",
                "edgetl export runs/x --to tflite:int8 --selective", "edgetl export runs/x --to tflite:int16"):
        assert f"`{cmd}" in w, (cmd, w)


def test_what_was_already_tried_is_not_suggested_again() -> None:
    rep = _report(6.0, selective={"chosen": False})
    rep["calibration"].update(images=500, ranges={}, weight_rounding={"enabled": True, "chosen": "nearest"})
    w = over_budget_warning(get("onnx:int8"), rep, ExportConfig(accuracy_budget=2.0), "r")
    assert "beyond noise" in w and "likely cause" not in w
    assert "--selective" not in w and "round_weights" not in w and "tflite:int16" not in w
    assert "`edgetl export r --to onnx:fp16`" in w
    w16 = over_budget_warning(get("tflite:int16"), _report(4.0), ExportConfig(accuracy_budget=2.0), "r")
    assert "--selective" not in w16 and w16.count("tflite:int16") == 2, w16  # its own commands, no int16 advice


def test_a_text_model_is_not_sent_to_selective_quantization() -> None:
    w = over_budget_warning(get("tflite:int8"), _report(9.0), ExportConfig(accuracy_budget=1.0), "r", selective=False)
    assert "--selective" not in w and "`edgetl export r --to tflite:int16`" in w


def test_onnx_int8_golden_images_tolerate_other_cpus_kernels_and_the_rest_stay_tight() -> None:
    from edgetl.export.contract import GOLDEN_TOLERANCE, ONNX_INT8_GOLDEN_TOLERANCE, golden_tolerance
    from edgetl.modality import TEXT
    from edgetl.targets import get

    assert golden_tolerance(get("onnx:int8")) == golden_tolerance(get("openvino:int8")) == ONNX_INT8_GOLDEN_TOLERANCE > GOLDEN_TOLERANCE
    assert golden_tolerance(get("onnx:int8"), TEXT) == golden_tolerance(get("tflite:int8"), TEXT) > GOLDEN_TOLERANCE
    for t in ("tflite:int8", "tflite:uint8", "tflite:fp32", "onnx:fp32", "onnx:fp16", "tflite:dynamic"):
        assert golden_tolerance(get(t)) == GOLDEN_TOLERANCE, t  # measured within 0.02 on arm64 and x86
    for t in ("tflite:dynamic", "tflite:int16", "tflite:fp32", "onnx:fp32"):
        assert golden_tolerance(get(t), TEXT) == GOLDEN_TOLERANCE, t


def test_golden_items_are_the_clearest_answers_never_near_ties() -> None:
    import numpy as np

    from edgetl.export.contract import golden_indices

    scores = np.array([[0.51, 0.49], [0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.02, 0.98], [0.6, 0.4]])
    assert golden_indices(scores, 3) == [1, 2, 4]  # in validation order, margins 0.8, 0.6, 0.96
    assert golden_indices(scores, 10) == list(range(6)) and golden_indices(scores, 0) == []
    assert golden_indices(scores, 2, pool=3) == [1, 2]  # only the first `pool` items are looked at


def test_the_onnx_runtime_graph_split_counts_integer_and_float_compute() -> None:
    from edgetl.formats.onnx.graph import float_warning, kernel_split

    x86 = {"DequantizeLinear": 80, "com.microsoft.QLinearConv": 37, "Conv": 15, "Add": 11, "Mul": 1,
           "com.microsoft.QGemm": 2, "com.microsoft.QLinearSoftmax": 1}
    arm = {"com.microsoft.QLinearConv": 52, "com.microsoft.QLinearAdd": 11, "com.microsoft.QGemm": 2}
    assert kernel_split(x86) == {"integer": 40, "float": 27} and kernel_split(arm) == {"integer": 65, "float": 0}
    assert float_warning({"onnxruntime": "1.32.0", **kernel_split(arm)}) is None
    assert "27 of 67 compute nodes" in float_warning({"onnxruntime": "1.32.0", **kernel_split(x86)})
