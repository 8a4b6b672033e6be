"""edgetl inspect: MACs and parameters, the TFLite reader against LiteRT, Edge TPU lint, estimates."""
import json
from pathlib import Path

import numpy as np
import pytest

from edgetl.analysis.edgetpu import lint_edgetpu
from edgetl.formats.tflite.stats import analyze_tflite

FOREIGN = "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"


def test_reader_agrees_with_litert(shared: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgetl.runtime.tflite_file import read_graph

    path = shared / FOREIGN
    g = read_graph(path.read_bytes())
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    details = it.get_tensor_details()
    # the runtime adds its own scratch tensors after the file's (im2col buffers and the like)
    assert len(details) >= len(g.tensors)
    for d in details[: len(g.tensors)]:
        t = g.tensors[d["index"]]
        assert tuple(d["shape"]) == t.shape and np.dtype(d["dtype"]).name == t.dtype and d["name"] == t.name
    ops = it._get_ops_details()
    r = analyze_tflite(path)
    assert [o["op_name"] for o in ops] == [layer.op for layer in r.layers]


def test_foreign_model_maps_fully_and_has_published_compute(shared: Path) -> None:
    lint = lint_edgetpu(shared / FOREIGN)
    assert lint.maps_fully and lint.ops_mapped == lint.ops_total == 68 and lint.parameters_fit_cache
    r = analyze_tflite(shared / FOREIGN)
    assert abs(r.macs / 300e6 - 1) < 0.03 and abs(r.params / 3.47e6 - 1) < 0.03
    assert r.min_runtime_version == "1.14.0"
    # peak: inside block 2, the 56x56x144 depthwise output plus its 56x56x24 residual input and the 112x112x96
    # expansion before it are the largest live set; bounded by the two largest activations together
    big = sorted((a["bytes"] for a in r.largest_activations), reverse=True)
    assert big[0] <= r.peak_activation_bytes <= big[0] + big[1] + big[2]


def test_keras_mobilenet_v2_matches_published_figures() -> None:
    keras = pytest.importorskip("keras")
    from edgetl.analysis.graph_stats import analyze_keras

    r = analyze_keras(model=keras.applications.MobileNetV2(weights=None))
    assert abs(r.macs / 300e6 - 1) < 0.03, r.macs
    assert abs(r.params / 3.47e6 - 1) < 0.03, r.params


def _convert(model, tmp_path: Path, precision: str) -> Path:
    from edgetl.formats.tflite.convert import keras_to_saved_model, saved_model_to_tflite
    from edgetl.quantize.calibration import representative

    sm = keras_to_saved_model(model, tmp_path / f"sm_{precision}", input_size=32)
    pixels = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3)).astype(np.uint8)
    data = saved_model_to_tflite(sm, precision, representative=representative(pixels) if "8" in precision else None)
    p = tmp_path / f"m_{precision}.tflite"
    p.write_bytes(data)
    return p


def test_lint_names_the_partition_op_and_float_reasons(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(8, 3)(x)
    x = keras.layers.LeakyReLU(0.1)(x)  # quantizes to int8 in TFLite, but has no Edge TPU kernel
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    lint = lint_edgetpu(_convert(model, tmp_path, "uint8"))
    assert not lint.maps_fully and lint.full_int8 and lint.partition_op == "LEAKY_RELU"
    assert 0 < lint.partition_index < lint.ops_total - 1
    assert any("partition at op" in r and "LEAKY_RELU" in r for r in lint.reasons)
    # the estimate runs the ops after the partition on the profile's host CPU, and says how much of it that is
    from edgetl.analysis.inspect_model import analyze, check
    from edgetl.devices import DeviceProfile, load_profile

    part = _convert(model, tmp_path, "uint8")
    est = check(analyze(part), load_profile("coral-usb"))["estimate"]
    assert "run on the host CPU after LEAKY_RELU" in est["note"]
    no_host = DeviceProfile.from_dict({"name": "tpu", "description": "d", "runtime": "litert", "delegate": "edgetpu",
                                       "needs_full_int8": True, "hardware": {"accelerator": "edgetpu"}},
                                      source="t.yaml")
    c = check(analyze(part), no_host)
    assert c["estimate"] is None and "hardware.host" in c["estimate_unavailable"]
    what_if = check(analyze(_convert(model, tmp_path, "fp32")), load_profile("coral-usb"), precision="int8")
    assert "assumes the int8 export maps fully" in what_if["estimate"]["note"]
    flt = lint_edgetpu(_convert(model, tmp_path, "fp32"))
    assert not flt.full_int8 and any("not fully quantized" in r for r in flt.reasons)
    assert any("tflite:uint8" in f for f in flt.fixes)


@pytest.mark.slow
def test_tflite_and_onnx_count_the_same_compute(tiny_run: Path) -> None:
    pytest.importorskip("tf2onnx")
    import keras

    from edgetl.analysis.graph_stats import analyze_keras, analyze_onnx
    from edgetl.api import find_stage
    from edgetl.formats.onnx.convert import keras_to_onnx

    m = keras.models.load_model(find_stage(tiny_run, "train") / "model.keras", compile=False)
    ks = analyze_keras(model=m)
    tfl = analyze_tflite(_convert(m, tiny_run, "fp32"))
    proto = keras_to_onnx(m, input_size=32, opset=17)
    import onnx

    onnx.save(proto, tiny_run / "m.onnx")
    on = analyze_onnx(tiny_run / "m.onnx")
    assert tfl.macs == on.macs == pytest.approx(ks.macs, rel=0.01)
    assert tfl.peak_activation_bytes > 0 and on.peak_activation_bytes > 0


def test_shipped_calibration_is_the_fit_of_the_anchor_table() -> None:
    """calibration.json is what benchmarks/estimator_cv.py fitted on anchors.csv: refitting gives the same model,
    and the validation it ships is the one that the raw file records."""
    from edgetl.analysis.anchors import load_rows
    from edgetl.analysis.cost import fit
    from edgetl.analysis.estimate import load_calibration

    cal = load_calibration()
    assert cal is not None
    rows, _ = load_rows()
    assert cal["validation"]["anchors"] == len(rows)
    refit = fit(rows).to_dict()
    for key in ("k", "runtime", "int8", "core_factor"):
        for name, v in refit[key].items():
            assert v == pytest.approx(cal["cpu"][key][name], rel=1e-6), (key, name)
    raw = json.loads((Path(__file__).parents[2] / "benchmarks" / "results" / "estimator_cv.json").read_text())
    assert raw["leave_one_device_out"]["median_ape"] == cal["validation"]["leave_one_device_out"]["median_ape"]


def test_thread_scaling_comes_from_devices_with_several_thread_counts() -> None:
    from edgetl.analysis.anchors import load_rows
    from edgetl.analysis.cost import fit_thread_scaling

    rows, _ = load_rows()
    single = [r for r in rows if r.threads == 1]
    assert fit_thread_scaling(single, default=0.4) == 0.4  # nothing to fit it on: the stated prior
    s = fit_thread_scaling(rows)
    assert 0.0 < s < 0.5
    # on a device published at 1 and 4 threads, the fitted S(4) is the typical speed-up, within a factor 1.6
    model_rows = {(r.model, r.threads): r.ms for r in rows if r.device == "rpi4-1.8ghz" and r.precision == "fp32"}
    speedups = [model_rows[(m, 1)] / model_rows[(m, 4)] for m, t in model_rows if t == 1 and (m, 4) in model_rows]
    assert speedups and 1 / 1.6 < np.median(speedups) / (4 / (1 + 3 * s)) < 1.6


def test_inspect_cli_json(shared: Path) -> None:
    from click.testing import CliRunner

    from edgetl.cli.main import cli

    r = CliRunner().invoke(cli, ["inspect", str(shared / FOREIGN), "--device", "coral-usb", "--device", "rpi4", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["devices"][0]["edgetpu"]["maps_fully"]
    est = d["devices"][1]["estimate"]
    assert est["p50_ms_low"] < est["p50_ms"] < est["p50_ms_high"] and "estimate" in est["note"]


def test_keras_lambda_is_refused_unless_asked(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from edgetl.errors import ConfigError, EdgetlError
    from edgetl.model_io import load_keras

    inp = keras.Input((4,))
    m = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2.0)(inp))
    p = tmp_path / "lambda.keras"
    m.save(p)
    with pytest.raises(EdgetlError, match="Lambda layer.*refuses"):
        load_keras(p)
    assert load_keras(p, unsafe=True).output_shape == (None, 4)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ConfigError, match="not a Keras .keras file"):
        load_keras(bad)


def test_threads_precision_and_a_reason_for_every_profile(shared: Path, tmp_path: Path) -> None:
    """--threads and --precision change the estimate; a user's own profile gets a one-line reason, not silence."""
    from edgetl.analysis.inspect_model import analyze, check
    from edgetl.devices import DeviceProfile, load_profile

    rep = analyze(shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite")
    four = check(rep, load_profile("rpi4"), threads=4)["estimate"]
    one = check(rep, load_profile("rpi4"), threads=1)["estimate"]
    assert one["threads"] == 1 and four["threads"] == 4 and one["p50_ms"] > four["p50_ms"]
    as_float = check(rep, load_profile("rpi4"), threads=1, precision="fp32")["estimate"]
    assert as_float["precision"] == "fp32" and as_float["p50_ms"] > one["p50_ms"]
    mine = DeviceProfile.from_dict({"name": "my-board", "description": "d", "runtime": "litert"}, source="my.yaml")
    c = check(rep, mine)
    assert c["estimate"] is None and "hardware: block lacks cores, clock_ghz" in c["estimate_unavailable"]
    # the same board described the way the built-in profiles are: an estimate, and a faster core is faster
    est = {}
    for core, clock in (("cortex-a53", 1.2), ("cortex-a76", 2.4)):
        board = DeviceProfile.from_dict({"name": "my-board", "description": "d", "runtime": "litert", "threads": [4],
                                         "hardware": {"core": core, "cores": 4, "clock_ghz": clock}},
                                        source="my.yaml")
        est[core] = check(rep, board)["estimate"]
        assert est[core]["p50_ms_low"] < est[core]["p50_ms"] < est[core]["p50_ms_high"]
        assert f"4x {core} at {clock:g} GHz" in est[core]["basis"]
    assert est["cortex-a53"]["p50_ms"] > 2 * est["cortex-a76"]["p50_ms"]
    odd = DeviceProfile.from_dict({"name": "b", "description": "d", "runtime": "litert",
                                   "hardware": {"core": "cortex-z9", "cores": 4, "clock_ghz": 2}}, source="b.yaml")
    guess = check(rep, odd)["estimate"]  # a core not listed, with cores and a clock: a typical core's rate
    assert guess["hardware_basis"] == "clock" and "much wider range" in guess["basis"]
    assert guess["p50_ms_high"] / guess["p50_ms_low"] > est["cortex-a76"]["p50_ms_high"] / est["cortex-a76"]["p50_ms_low"]
    with_peak = DeviceProfile.from_dict({"name": "b", "description": "d", "runtime": "litert", "hardware": {
        "core": "cortex-z9", "cores": 4, "clock_ghz": 2, "peak_gflops_fp32": 128}}, source="b.yaml")
    assert "does not list: from its peak_gflops_fp32" in check(rep, with_peak)["estimate"]["basis"]
