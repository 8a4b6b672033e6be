"""edgetl inspect: MACs and parameters, the TFLite reader against LiteRT, Edge TPU lint, estimates."""
import json
from pathlib import Path

import numpy as np
import pytest

from edgetl.analysis.edgetpu import lint_edgetpu
from edgetl.analysis.tflite_stats import analyze_tflite

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
    from edgetl.convert.keras_to_tflite import keras_to_saved_model, saved_model_to_tflite
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
    flt = lint_edgetpu(_convert(model, tmp_path, "fp32"))
    assert not flt.full_int8 and any("not fully quantized" in r for r in flt.reasons)
    assert any("tflite:uint8" in f for f in flt.fixes)


@pytest.mark.slow
def test_tflite_and_onnx_count_the_same_compute(tiny_run: Path) -> None:
    pytest.importorskip("tf2onnx")
    import keras

    from edgetl.analysis.graph_stats import analyze_keras, analyze_onnx
    from edgetl.api import find_stage
    from edgetl.convert.keras_to_onnx import keras_to_onnx

    m = keras.models.load_model(find_stage(tiny_run, "train") / "model.keras", compile=False)
    ks = analyze_keras(model=m)
    tfl = analyze_tflite(_convert(m, tiny_run, "fp32"))
    proto = keras_to_onnx(m, input_size=32, opset=17)
    import onnx

    onnx.save(proto, tiny_run / "m.onnx")
    on = analyze_onnx(tiny_run / "m.onnx")
    assert tfl.macs == on.macs == pytest.approx(ks.macs, rel=0.01)
    assert tfl.peak_activation_bytes > 0 and on.peak_activation_bytes > 0


def test_estimator_meets_its_documented_error(shared: Path) -> None:
    from edgetl.analysis.compat import load_calibration
    from edgetl.analysis.estimate import fit, leave_one_out, load_anchors

    anchors = load_anchors(shared / "anchors" / "published_latency.csv")
    ape = np.array([r["ape"] for r in leave_one_out(anchors)])
    cal = load_calibration()
    assert cal is not None and np.median(ape) == pytest.approx(cal["loo_median_ape"], abs=1e-3)
    assert np.median(ape) <= 0.25
    f = fit(anchors)  # the shipped calibration is the fit of these anchors
    assert f.e_dense == cal["e_dense"] and f.alpha == cal["alpha"]


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
    assert c["estimate"] is None and "built-in boards" in c["estimate_unavailable"]
