"""Latency estimates, round three (issue 35): the kernels a board runs, the Edge TPU's link and host, estimates
from less information with wider ranges, and hardware blocks whose typos are refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgetl.analysis.estimate import estimate_for
from edgetl.analysis.report import LayerStat, ModelReport
from edgetl.devices import DeviceProfile, load_profile
from edgetl.errors import ConfigError
from edgetl.hardware import link_of


def _report(params: int = 3_500_000, fmt: str = "onnx") -> ModelReport:
    """A MobileNet-like model (its work in a few layers; onnx: no Edge TPU lint of a file)."""
    layers = [LayerStat(0, "Conv", "c", 250_000_000, params, (1, 7, 7, 1280)),
              LayerStat(1, "Conv(depthwise)", "d", 20_000_000, 10_000, (1, 14, 14, 576)),
              *[LayerStat(2 + i, "Add", f"a{i}", 0, 0, (1, 14, 14, 96)) for i in range(10)],
              LayerStat(12, "Gemm", "f", 1_280_000, 1_280_000, (1, 1000))]
    return ModelReport(path="m." + fmt, format=fmt, input_shape=(1, 224, 224, 3), input_dtype="int8",
                       output_shape=(1, 1000), layers=layers, params=params, weight_bytes_by_dtype={"int8": params},
                       peak_activation_bytes=None, peak_at=None)


def _profile(**over: object) -> DeviceProfile:
    d = {"name": "board", "description": "a board", "runtime": "litert", "threads": [4], "access": {"kind": "none"},
         **over}
    return DeviceProfile.from_dict(d, source="board.yaml")


def test_a_profile_with_only_its_peak_gets_an_estimate_with_a_wider_range() -> None:
    full, why = estimate_for(_report(), _profile(hardware={"core": "cortex-a72", "cores": 4, "clock_ghz": 1.5}),
                             "int8")
    peak, why2 = estimate_for(_report(), _profile(hardware={"peak_gflops_fp32": 48}), "int8")
    clock, why3 = estimate_for(_report(), _profile(hardware={"cores": 4, "clock_ghz": 1.5}), "int8")
    assert full and peak and clock, (why, why2, why3)
    for e in (full, peak, clock):
        assert e["p50_ms_low"] < e["p50_ms"] < e["p50_ms_high"]
    ratio = lambda e: e["p50_ms_high"] / e["p50_ms_low"]  # noqa: E731
    assert ratio(peak) > ratio(full) and ratio(clock) > ratio(full)
    assert peak["hardware_basis"] == "peak-only" and "only peak_gflops_fp32" in peak["basis"]
    assert "near-twins" in peak["expected_error"] and "leave-one-device-out" in full["expected_error"]


def test_kernels_choose_the_cost_and_an_unstated_one_is_said_and_covered() -> None:
    hw = {"core": "cortex-a72", "cores": 4, "clock_ghz": 1.5}
    xnn, _ = estimate_for(_report(), _profile(hardware=hw, kernels="xnnpack"), "fp32")
    legacy, _ = estimate_for(_report(), _profile(hardware=hw, kernels="tflite-legacy"), "fp32")
    unsaid, _ = estimate_for(_report(), _profile(hardware=hw), "fp32")
    assert legacy["p50_ms"] != xnn["p50_ms"] and legacy["kernels"] == "tflite-legacy"
    assert "older built-in kernels" in legacy["basis"] and "XNNPACK kernels" in xnn["basis"]
    assert unsaid["p50_ms"] == xnn["p50_ms"] and unsaid["kernels"] == "xnnpack (assumed)"
    assert "kernels: tflite-legacy" in unsaid["note"] and unsaid["p50_ms_high"] >= legacy["p50_ms"]
    assert "assumed" not in xnn["note"]
    legacy_hw, _ = estimate_for(_report(), _profile(hardware={**hw, "kernels": "tflite-legacy"}), "fp32")
    assert legacy_hw["p50_ms"] == legacy["p50_ms"]  # hardware.kernels is the same field


@pytest.mark.parametrize("over, words", [
    ({"hardware": {"cores": 4, "clok_ghz": 1.5}}, "Did you mean 'clock_ghz'"),
    ({"kernels": "tflite-legacyy"}, "kernels must be one of"),
    ({"hardware": {"kernels": "xnnpak"}}, "Did you mean 'xnnpack'"),
    ({"hardware": {"link": "usb4"}}, "link must be one of"),
    ({"hardware": {"host": {"core": "cortex-a53", "clock": 1.2}}}, "Did you mean 'clock_ghz'"),
    ({"hardware": {"cores": -4}}, "positive number"),
    ({"kernels": "ncnn", "hardware": {"kernels": "xnnpack"}}, "agree with hardware.kernels"),
])
def test_hardware_typos_are_refused_with_what_to_write(over: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        _profile(**over)


def test_edge_tpu_link_and_host_enter_the_estimate() -> None:
    big = _report(params=20_000_000, fmt="onnx")  # 12 MB over the 8 MB cache streams on every run
    base = {"accelerator": "edgetpu", "on_chip_parameter_cache_mb": 8}
    tpu = {"delegate": "edgetpu", "threads": [1], "needs_full_int8": True}
    est = {}
    for name, hw in {"usb3": {**base, "link": "usb3"}, "usb2": {**base, "link": "usb2"},
                     "pcie": {**base, "link": "pcie"}, "onboard": {**base, "link": "onboard"},
                     "usb3-pi": {**base, "link": "usb3", "host": {"core": "cortex-a72", "cores": 4, "clock_ghz": 1.5}},
                     "usb3-zero": {**base, "link": "usb3", "host": {"core": "cortex-a53", "cores": 4, "clock_ghz": 1.0}}
                     }.items():
        e, why = estimate_for(big, _profile(hardware=hw, **tpu), "int8")
        assert e is not None, why
        est[name] = e
    assert est["usb2"]["p50_ms"] > 2 * est["usb3"]["p50_ms"] and "USB 2" in est["usb2"]["basis"]
    assert est["onboard"]["p50_ms"] == est["pcie"]["p50_ms"]
    assert est["usb3"]["p50_ms"] < est["usb3-pi"]["p50_ms"] < est["usb3-zero"]["p50_ms"]
    assert "priors, not fits" in est["usb3-pi"]["basis"] and "priors" not in est["usb3"]["basis"]
    width = lambda e: e["p50_ms_high"] / e["p50_ms_low"]  # noqa: E731
    assert width(est["usb2"]) > width(est["usb3"])


def test_links_are_read_from_the_free_text_interface() -> None:
    assert link_of({"interface": "USB 3.0 (USB 2.0 is several times slower)"}) == "usb3"
    assert link_of({"interface": "USB 2.0"}) == "usb2" and link_of({"interface": "PCIe"}) == "pcie"
    assert link_of({"interface": "on-board"}) == "onboard" and link_of({"link": "usb2", "interface": "USB 3"}) == "usb2"
    assert link_of(load_profile("coral-usb").hardware) == "usb3"


def test_costly_element_wise_ops_are_a_class_of_their_own() -> None:
    """Hard-swish, sigmoid, softmax and squeeze-and-excitation's multiply are not costed like an add (issue 35)."""
    from edgetl.analysis.cost import CostModel, Work, cpu_from_hardware, op_class, work_of
    from edgetl.analysis.estimate import load_calibration

    for op in ("HARD_SWISH", "LOGISTIC", "MUL", "SOFTMAX", "hard_silu", "swish", "HardSwish", "Mul"):
        assert op_class(op, 0, (1, 8)) == "act", op
    assert op_class("ADD", 0, (1, 8)) == "other" and op_class("RELU", 0, (1, 8)) == "other"
    rep = ModelReport("m", "tflite", (1, 8, 8, 3), "float32", (1, 10),
                      [LayerStat(0, "HARD_SWISH", "h", 0, 0, (1, 8, 8, 16)), LayerStat(1, "ADD", "a", 0, 0, (1, 8, 8, 16))],
                      0, {}, None, None)
    w = work_of(rep)
    assert w.act == pytest.approx(1024 / 1e6) and w.other == pytest.approx(1024 / 1e6)
    model = CostModel.from_dict(load_calibration()["cpu"])
    assert model.k["act"] > 0
    cpu = cpu_from_hardware({"core": "cortex-a72", "cores": 4, "clock_ghz": 1.5})[0]
    plain = model.predict_ms(Work(10, 1, 0, 1, 20), cpu, threads=1, runtime="xnnpack", precision="fp32")
    more = model.predict_ms(Work(10, 1, 0, 1, 20, act=1.0), cpu, threads=1, runtime="xnnpack", precision="fp32")
    assert more > plain
    old = {k: v for k, v in load_calibration()["cpu"].items()}
    old["k"] = {k: v for k, v in old["k"].items() if k != "act"}  # a device calibration from before: act as other
    assert CostModel.from_dict(old).predict_ms(Work(10, 1, 0, 1, 20, act=1.0), cpu, threads=1, runtime="xnnpack",
                                               precision="fp32") > plain


def test_keras_activation_layers_are_named_by_their_function() -> None:
    keras = pytest.importorskip("keras")
    from edgetl.analysis.graph_stats import analyze_keras

    x = keras.Input((4, 4, 3))
    y = keras.layers.Activation("hard_swish")(keras.layers.Conv2D(8, 1, activation="relu")(x))
    y = keras.layers.Activation("relu")(y)
    ops = analyze_keras(model=keras.Model(x, y)).ops
    assert ("hard_silu" in ops or "hard_swish" in ops) and ops.get("Activation") == 1



def test_a_profile_reads_its_calibration_only_from_its_own_folder(tmp_path: Path) -> None:
    import json

    from edgetl.devices import DeviceProfile
    from edgetl.errors import ConfigError

    base = {"name": "b", "description": "d", "runtime": "litert", "hardware": {"core": "cortex-a72", "cores": 4,
                                                                                 "clock_ghz": 1.5}}
    (tmp_path / "b.calibration.json").write_text(json.dumps({"fp32": [1, 1, 1], "int8": [1, 1, 1], "s": 0.1}))
    prof = DeviceProfile.from_dict({**base, "latency_calibration": "b.calibration.json"}, source=str(tmp_path / "b.yaml"))
    assert prof.latency_calibration["s"] == 0.1 and "latency_calibration" not in prof.hardware
    outside = tmp_path.parent / "elsewhere.json"
    for name, msg in (("../elsewhere.json", "not in the profile's folder"), ("b.yaml", "must name the .json"),
                      ("missing.json", "cannot read its latency_calibration"), (7, "must name the .json")):
        with pytest.raises(ConfigError, match=msg):
            DeviceProfile.from_dict({**base, "latency_calibration": name}, source=str(tmp_path / "b.yaml"))
    assert not outside.exists()
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a calibration edgetl wrote"):
        DeviceProfile.from_dict({**base, "latency_calibration": "list.json"}, source=str(tmp_path / "b.yaml"))
    old = {**base, "hardware": {**base["hardware"], "latency_calibration": {"s": 0.2}}}  # the inline form of before
    assert DeviceProfile.from_dict(old, source="old.yaml").latency_calibration == {"s": 0.2}
