"""The CPU cost model's pieces: op classes, hardware facts, the device calibration's fit."""
import json

import pytest

from edgetl.analysis.calibrate import predict_calibrated, calibrate, fit_device
from edgetl.analysis.cost import CostModel, Work, cpu_from_hardware, op_class, work_of
from edgetl.analysis.report import LayerStat, ModelReport


def test_op_classes_across_formats() -> None:
    assert {op_class(o, 1, ()) for o in ("CONV_2D", "Conv2D", "Conv", "QLinearConv")} == {"conv"}
    assert {op_class(o, 1, ()) for o in ("DEPTHWISE_CONV_2D", "DepthwiseConv2D", "Conv(depthwise)")} == {"depthwise"}
    assert {op_class(o, 1, ()) for o in ("FULLY_CONNECTED", "Dense", "Gemm", "MatMul")} == {"fc"}
    assert op_class("ADD", 0, (1, 4)) == "other"


def test_work_counts_macs_per_class_and_skips_fused_layers() -> None:
    layers = [LayerStat(0, "CONV_2D", "c", 2_000_000, 10, (1, 8, 8, 4)),
              LayerStat(1, "DEPTHWISE_CONV_2D", "d", 500_000, 10, (1, 8, 8, 4)),
              LayerStat(2, "ADD", "a", 0, 0, (1, 8, 8, 4)), LayerStat(3, "QUANTIZE", "q", 0, 0, (1, 8, 8, 4)),
              LayerStat(4, "FULLY_CONNECTED", "f", 1_000, 10, (1, 10))]
    rep = ModelReport("m", "tflite", (1, 8, 8, 3), "float32", (1, 10), layers, 30, {}, None, None)
    w = work_of(rep)
    assert (w.conv, w.depthwise, w.fc, w.other, w.ops) == (2.0, 0.5, 0.001, 256 / 1e6, 4)


def test_hardware_block_reasons() -> None:
    assert "lacks cores, clock_ghz" in cpu_from_hardware({})[1] and "peak_gflops_fp32" in cpu_from_hardware({})[1]
    assert "lacks cores, clock_ghz" in cpu_from_hardware({"core": "cortex-a72"})[1]
    assert "out of range" in cpu_from_hardware({"core": "cortex-a72", "cores": 4, "clock_ghz": 400})[1]
    assert "must be a number" in cpu_from_hardware({"core": "cortex-a72", "cores": "four", "clock_ghz": 1})[1]
    cpu, _ = cpu_from_hardware({"core": "Cortex-A76", "cores": 4, "clock_ghz": 2.4})
    assert cpu is not None and cpu.known_core and cpu.dot and cpu.macs_per_cycle == 8
    cpu, _ = cpu_from_hardware({"core": "x86-64", "cores": 2, "clock_ghz": 2.0, "peak_gflops_fp32": 256})
    assert cpu is not None and not cpu.known_core and cpu.macs_per_cycle == pytest.approx(32) and cpu.basis == "peak"


def test_less_information_still_estimates_at_a_lower_basis() -> None:
    """Issue 35: only peak_gflops_fp32, or only cores and a clock, still describe a CPU (a wider range later)."""
    cpu, _ = cpu_from_hardware({"peak_gflops_fp32": 48})
    assert cpu is not None and cpu.basis == "peak-only" and cpu.cores == 4
    assert 2 * cpu.cores * cpu.clock_ghz * cpu.macs_per_cycle == pytest.approx(48)
    cpu, _ = cpu_from_hardware({"cores": 2, "clock_ghz": 1.2})
    assert cpu is not None and cpu.basis == "clock" and (cpu.cores, cpu.clock_ghz) == (2, 1.2)
    cpu, why = cpu_from_hardware({"core": "no-such-core"})
    assert cpu is None and "peak_gflops_fp32" in why


def _model() -> CostModel:
    return CostModel({"conv": 1.0, "depthwise": 10.0, "fc": 4.0, "other": 4.0}, 0.01, 0.15,
                     {"xnnpack": 1.0}, {"tflite/nodot": 0.8, "tflite/dot": 0.6}, {}, {"xnnpack": 1.0})


def test_device_calibration_recovers_a_board_that_differs_from_the_fit() -> None:
    cpu, _ = cpu_from_hardware({"core": "cortex-a72", "cores": 4, "clock_ghz": 1.5})
    m = _model()
    works = {"a": Work(300, 20, 1, 2, 60), "b": Work(3800, 0, 2, 6, 70), "c": Work(50, 8, 1, 1, 80),
             "d": Work(400, 35, 1, 5, 130)}
    truth = {"fp32": [1.7, 0.8, 1.2], "int8": [0.3, 1.1, 2.0], "s": 0.3}
    rows = [(w, t, p, predict_calibrated(m, w, cpu, t, "xnnpack", p, truth) * (1.02 if k == "b" else 0.99), k)
            for k, w in works.items() for t in (1, 4) for p in ("fp32", "int8")]
    fit = fit_device(m, cpu, "xnnpack", rows)
    for p in ("fp32", "int8"):  # the two big parts come back; the small per-op part is looser under the noise
        assert fit[p][:2] == pytest.approx(truth[p][:2], rel=0.1), p
        assert fit[p][2] == pytest.approx(truth[p][2], rel=0.5), p
    assert fit["s"] == pytest.approx(0.3, abs=0.03)
    res = calibrate(m, cpu, "xnnpack", rows)
    assert res["calibration"]["models"] == 4 and len(res["leave_one_model_out"]) == len(rows)
    assert res["calibration"]["leave_one_model_out_median_ape"] < 0.1
    # one model, one thread count, one precision: one factor, s and int8 from the published fit
    one = fit_device(m, cpu, "xnnpack", [r for r in rows if r[1] == 4 and r[2] == "fp32" and r[4] == "a"])
    assert one["s"] == pytest.approx(m.s) and len(set(one["fp32"])) == 1 and one["fp32"][0] > 0
    assert one["int8"][0] == pytest.approx(one["fp32"][0] * m.int8["tflite/nodot"], rel=1e-3)
    with pytest.raises(ValueError):
        predict_calibrated(m, works["a"], cpu, 1, "xnnpack", "fp32", {"fp32": [1, -1, 1], "int8": [1, 1, 1]})


def test_bench_json_for_calibration_is_untrusted_input(tmp_path, monkeypatch) -> None:
    from edgetl.analysis.calibrate import read_bench_rows
    from edgetl.errors import ConfigError

    bad = tmp_path / "bench.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a bench JSON"):
        read_bench_rows(bad, "rpi4")
    bad.write_text(json.dumps({"rows": [1, "x", {"device": "rpi4", "status": "ok", "p50_ms": -3}]}))
    with pytest.raises(ConfigError, match="no measured rows of device 'rpi4'"):
        read_bench_rows(bad, "rpi4")
    bad.write_text(json.dumps({"rows": [{"device": "rpi4", "status": "ok", "p50_ms": 2.5, "artifact": "a"}]}))
    assert len(read_bench_rows(bad, "rpi4")) == 1
    monkeypatch.setenv("EDGETL_MAX_BENCH_BYTES", "10")
    with pytest.raises(ConfigError, match="EDGETL_MAX_BENCH_BYTES"):
        read_bench_rows(bad, "rpi4")
    with pytest.raises(ConfigError, match="Cannot read bench file"):
        read_bench_rows(tmp_path / "missing.json", "rpi4")


def test_16_bit_activations_get_no_estimate_and_say_why() -> None:
    """tflite:int16 runs on LiteRT's reference kernels on CPUs: no anchor covers it, so no number is invented."""
    from edgetl.analysis.compat import precision_of
    from edgetl.analysis.estimate import estimate_for
    from edgetl.analysis.report import ModelReport
    from edgetl.devices import load_profile

    r = ModelReport(path="m.tflite", format="tflite", input_shape=(1, 8, 8, 3), input_dtype="float32",
                    output_shape=(1, 2), layers=[], params=10, weight_bytes_by_dtype={"int8": 100},
                    peak_activation_bytes=10, peak_at=None, activation_bytes_by_dtype={"int16": 900, "float32": 96})
    assert precision_of(r) == "int16"
    est, why = estimate_for(r, load_profile("rpi4"), "int16")
    assert est is None and "reference kernels" in why and "edgetl bench" in why
