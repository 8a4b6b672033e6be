"""Every export target on a tiny model, contracts, golden self-test, and a deliberately broken quantization."""
import json
from pathlib import Path

import numpy as np
import pytest

from edgetl.config import ExportConfig
from edgetl.targets import TARGETS

pytestmark = [pytest.mark.tf, pytest.mark.onnx, pytest.mark.litert]
pytest.importorskip("tf2onnx")
pytest.importorskip("ai_edge_litert")


# tflite:int16 has its own test: the tiny model is barely trained, its layers silent on 8 calibration images
EVERY = tuple(t for t in TARGETS if TARGETS[t].activation_bits == 8)
# the fast suite's share: a float file, a calibrated TFLite file phone apps load, a calibrated ONNX file; the slow
# suite exports the rest into the same run folder (the export stage reuses these three)
FAST = ("tflite:fp32", "tflite:uint8", "onnx:int8")  # the OpenVINO IRs: the slow every-target test, and unit tests
OPTIONS = dict(calibration_images=8, golden_images=2, accuracy_budget=100.0,
               sensitivity_images=0)  # the sensitivity table has its own test below


@pytest.fixture(scope="module")
def exported(tiny_run: Path) -> list[dict]:
    from edgetl.api import export

    return export(tiny_run, ExportConfig(targets=FAST, **OPTIONS))


@pytest.fixture(scope="module")
def exported_every(tiny_run: Path, exported: list[dict]) -> list[dict]:
    from edgetl.api import export

    return export(tiny_run, ExportConfig(targets=EVERY, **OPTIONS))


@pytest.mark.slow  # every target: 50 s of conversions (benchmarks/results/test_timing.json); FAST covers each kind
def test_every_target_exists_verified_and_described(exported_every: list[dict], tiny_run: Path) -> None:
    exported = exported_every
    assert [r["target"] for r in exported] == list(EVERY)
    for r in exported:
        p = Path(r["path"])
        files = TARGETS[r["target"]].format.files(p)  # an OpenVINO IR: model.xml and its weights model.bin
        assert all(f.is_file() for f in files) and sum(f.stat().st_size for f in files) == r["size_bytes"]
        assert p.suffix == TARGETS[r["target"]].format.suffix
        assert r["status"] in ("ok", "uncertain", "over budget"), r
        agreeing = r["top1_agreement"] * r["images"]  # a fraction of the verified images
        assert r["images"] >= 3 and abs(agreeing - round(agreeing)) < 1e-6 and r["ops"]
    by = {r["target"]: r for r in exported}
    for t in ("tflite:fp32", "onnx:fp32", "openvino:fp32"):
        assert by[t]["status"] == "ok" and by[t]["top1_agreement"] == 1.0 and by[t]["max_abs_diff"] < 1e-4
    assert by["tflite:uint8"]["input"]["dtype"] == "uint8" and by["tflite:int8"]["input"]["dtype"] == "int8"
    assert by["tflite:uint8"]["input"]["quantization"]["scale"] == pytest.approx(1.0, rel=0.02)
    assert by["tflite:fp16"]["size_bytes"] < 0.6 * by["tflite:fp32"]["size_bytes"]
    # onnx:fp16 (added as a table entry plus its exporter branch): float16 weights, float32 I/O, verified
    assert by["onnx:fp16"]["size_bytes"] < 0.6 * by["onnx:fp32"]["size_bytes"]
    assert by["onnx:fp16"]["input"]["dtype"] == "float32" and by["onnx:fp16"]["top1_agreement"] >= 0.99
    import onnx

    for r in exported:  # the standard's own checker, not only ONNX Runtime (which sorts nodes by itself)
        if r["path"].endswith(".onnx"):
            onnx.checker.check_model(onnx.load(r["path"]), full_check=True)
    assert not any("Flex" in op for r in exported for op in r["ops"])
    report = json.loads((tiny_run / "export_report.json").read_text())
    assert len(report["artifacts"]) == len(EVERY) and (tiny_run / "export_report.md").is_file()
    for t in ("tflite:int8", "tflite:uint8", "onnx:int8", "openvino:int8"):  # every calibrated artifact: range audit
        ranges = by[t]["calibration"]["ranges"]
        assert ranges["tensors_checked"] > 0 and ranges["heldback_inputs"] >= 3, (t, ranges)
        wr = by[t]["calibration"]["weight_rounding"]  # on by default for image models; the report names the pick
        assert wr["enabled"] is True and wr["chosen"] in ("nearest", "clip", "gptq"), wr
        assert set(wr["held_back_output_error"]) >= {"nearest"} and wr["held_back_inputs"] >= 1, wr
    md = (tiny_run / "export_report.md").read_text()
    assert "## tflite:int8: quantization" in md and "activation-range audit" in md
    assert "- weights: " in md and "held-back calibration images" in md


@pytest.mark.slow  # over 10 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_range_audit_names_tensors_that_held_back_inputs_push_past_a_narrow_calibration(tiny_run: Path) -> None:
    """Calibrated on dark images, the int8 model clips what bright held-back images produce; calibrated on
    images like the held-back ones, it does not: both runtimes, each artifact run in its own."""
    import onnx

    from edgetl.api import find_stage
    from edgetl.formats.tflite.convert import saved_model_to_tflite
    from edgetl.formats.onnx.export import _float
    from edgetl.export.inputs import ExportInputs
    from edgetl.quantize.calibration import representative
    from edgetl.formats.onnx.int8 import quantize_onnx
    from edgetl.formats.onnx.ranges import onnx_audit
    from edgetl.formats.tflite.ranges import tflite_audit

    cfg = ExportConfig(calibration_images=8)
    shared = ExportInputs.open(find_stage(tiny_run, "train"), cfg)
    _, held, _ = shared.validation
    dark = shared.calibration * 0.1
    for calib, narrow in ((dark, True), (held, False)):
        tfl = saved_model_to_tflite(shared.saved_model, "int8", representative=representative(calib))
        qdq = quantize_onnx(_float(shared, cfg), mode="static", pixels=calib, per_channel=True)
        for name, audit in (("tflite", tflite_audit(tfl, calib, held)),
                            ("onnx", onnx_audit(onnx.load_from_string(qdq.SerializeToString()), calib, held))):
            assert audit["tensors_checked"] > 0, name
            if narrow:
                assert audit["tensors_exceeded"] >= 1 and "calibration set does not cover" in audit["warnings"][0], \
                    (name, audit)
                worst = audit["exceeded"][0]
                assert worst["heldback_clipped"] > 2 * worst["calibration_clipped"]
            else:
                assert audit["tensors_exceeded"] == 0 and not audit["warnings"], (name, audit)


@pytest.mark.slow  # over 10 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_int16_activations_are_verified_like_the_others_or_refused_in_one_line(tiny_run: Path, tmp_path: Path
                                                                                ) -> None:
    """tflite:int16 (16-bit activations, int8 weights, float32 I/O) on the tiny run: a verified artifact with
    int16 tensors inside, or, where TFLite's 16x8 quantizer writes a model LiteRT cannot prepare (silent layers
    of a barely trained model), a ConversionError that names the target and what to do, not a LiteRT trace."""
    from edgetl.api import export
    from edgetl.errors import ConversionError

    try:
        rows = export(tiny_run, ExportConfig(targets=("tflite:int16",), calibration_images=8, golden_images=2,
                                             accuracy_budget=100.0))
    except ConversionError as exc:
        msg = str(exc)
        assert msg.startswith("tflite:int16: LiteRT refuses") and "calibration" in msg and "\n" not in msg, msg
        return
    r = rows[0]
    assert r["input"]["dtype"] == "float32" and r["calibration"]["ranges"]["tensors_checked"] > 0
    assert "selective" not in r and r["calibration"]["weight_rounding"]["enabled"] is True


def test_range_audit_with_the_float_twin_counts_only_values_really_cut_off(tmp_path: Path) -> None:
    """Issue 29: stored values at the ends of a range were counted as clipped, so pixels of 0 or 255 showed as
    clipping on the very images the ranges came from. With the float twin, a min-max calibrated range clips
    nothing on its own calibration images, and values beyond it on held-back ones are still found."""
    import keras

    from edgetl.formats.tflite.convert import calibrated_model, keras_to_saved_model, quantize_calibrated
    from edgetl.quantize.calibration import representative
    from edgetl.formats.tflite.ranges import tflite_audit

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1),
                          keras.layers.Conv2D(4, 1), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    sm = keras_to_saved_model(m, tmp_path / "sm", input_size=8)
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (16, 8, 8, 3)).astype(np.float32)  # every image reaches 0 and 255
    held = np.where(rng.random((16, 8, 8, 3)) < 0.5, 0.0, 255.0).astype(np.float32)  # saturated: beyond the ranges
    twin = calibrated_model(sm, "tflite:int8", representative=representative(calib))
    q = quantize_calibrated(twin, "tflite:int8")
    ends = tflite_audit(q, calib, held)
    real = tflite_audit(q, calib, held, float_model=twin)
    assert real["measure"] == "float values beyond the quantized range" and real["tensors_exceeded"] >= 1
    assert all(r["calibration_clipped"] == 0.0 for r in real["exceeded"]), real["exceeded"]
    assert any(r["calibration_clipped"] > 0.0 for r in ends["exceeded"]), ends["exceeded"]  # ends reached, not cut
    assert tflite_audit(q, calib, calib, float_model=twin)["tensors_exceeded"] == 0


def test_contract_is_embedded_and_in_the_sidecar(exported: list[dict]) -> None:
    from edgetl.runtime.contract import embedded_contract, sidecar_path

    for r in exported:
        p = Path(r["path"])
        side = json.loads(sidecar_path(p).read_text())
        emb = embedded_contract(p, p.read_bytes())
        assert emb is not None and emb["labels"] == side["labels"] == ["cyan", "magenta", "yellow"]
        assert emb["input"] == side["input"] and emb["source"]["keras_model_sha256"] == side["source"]["keras_model_sha256"]
        assert len(side["golden"]) == 2 and "jpeg_base64" in side["golden"][0]


@pytest.mark.slow  # the every-target export (the fast suite's share has no IR: tests/unit/test_openvino_ir.py)
def test_an_openvino_ir_is_published_and_handed_off_as_its_two_files(exported_every: list[dict], tiny_run: Path
                                                                    ) -> None:
    from edgetl.bench.handoff import steps
    from edgetl.runs import list_artifacts

    exported = exported_every
    ir = next(r for r in exported if r["target"] == "openvino:int8")
    pub = tiny_run / "artifacts"
    assert (pub / "model_int8.xml").is_file() and (pub / "model_int8.bin").is_file()
    row = next(a for a in list_artifacts(tiny_run) if a["target"] == "openvino:int8")
    assert row["size_bytes"] == ir["size_bytes"] > (pub / "model_int8.xml").stat().st_size
    scp = next(s for s in steps({"access": {"kind": "ssh", "host": "pi"}}, pub / "model_int8.xml", {"threads": 1})
               if s.startswith("scp"))
    assert "model_int8.bin" in scp and "model_int8.xml.json" in scp
    # the int8 IR is the QDQ model's: FakeQuantize layers, and the same weight rounding was reported for both
    assert "FakeQuantize" in ir["ops"]
    onnx_rounding = next(r for r in exported if r["target"] == "onnx:int8")["calibration"]["weight_rounding"]
    assert ir["calibration"]["weight_rounding"]["chosen"] == onnx_rounding["chosen"]


def test_runtime_selftest_passes_and_catches_corruption(exported: list[dict], tmp_path: Path) -> None:
    from edgetl.errors import RuntimeBackendError
    from edgetl.runtime import Classifier
    from edgetl.runtime.contract import sidecar_path

    for r in exported:
        assert Classifier.load(r["path"]).selftest()["ok"]
    src = Path(next(r["path"] for r in exported if r["target"] == "tflite:fp32"))
    dst = tmp_path / src.name
    dst.write_bytes(src.read_bytes())
    side = json.loads(sidecar_path(src).read_text())
    for g in side["golden"]:  # expectations that the model cannot meet: a wrong-preprocessing stand-in
        g["top1"] = (g["top1"] + 1) % 3
    sidecar_path(dst).write_text(json.dumps(side))
    with pytest.raises(RuntimeBackendError, match="selftest failed on 2 of 2"):
        Classifier.load(dst).selftest()


@pytest.mark.slow  # over 10 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_rerun_reuses_every_stage(exported_every: list[dict], tiny_run: Path) -> None:
    from edgetl.api import export

    exported = exported_every
    again = export(tiny_run, ExportConfig(**OPTIONS))  # the fixture's options, so every stage is reused
    assert all(r["cached"] for r in again)
    changed = export(tiny_run, ExportConfig(targets=("tflite:int8", "tflite:fp32"), calibration_images=9,
                                            golden_images=2, accuracy_budget=100.0, sensitivity_images=0))
    assert [r["cached"] for r in changed] == [False, True]  # only what depends on the changed option reruns
    nearest = export(tiny_run, ExportConfig(targets=("tflite:int8", "onnx:int8", "onnx:fp32"), calibration_images=8,
                                            golden_images=2, accuracy_budget=100.0, round_weights=False,
                                            sensitivity_images=0))
    assert [r["cached"] for r in nearest] == [False, False, True]
    by = {r["target"]: r for r in exported}
    for r in nearest[:2]:  # nearest rounding: the same graph as the default's activation-aware rounding
        assert r["calibration"]["weight_rounding"]["enabled"] is False and r["ops"] == by[r["target"]]["ops"]


@pytest.mark.slow
def test_broken_calibration_is_flagged(real_run: Path) -> None:
    """Calibrating on [0, 1] inputs while the model sees 0..255 pixels saturates the input: accuracy collapses."""
    from edgetl.api import find_stage
    from edgetl.formats.tflite.convert import saved_model_to_tflite
    from edgetl.export.inputs import ExportInputs
    from edgetl.export.verify import compare, run_artifact
    from edgetl.quantize.calibration import representative
    from edgetl.runtime import Classifier

    shared = ExportInputs.open(find_stage(real_run, "train"), ExportConfig(calibration_images=32))
    names, pixels, labels = shared.validation
    from edgetl.train.loops import predict_images

    ref = predict_images(shared.model, pixels)
    good = saved_model_to_tflite(shared.saved_model, "uint8", representative=representative(shared.calibration))
    bad = saved_model_to_tflite(shared.saved_model, "uint8",
                                representative=representative(shared.calibration, lambda x: x / 255.0))
    results = {}
    for name, data in (("good", good), ("bad", bad)):
        p = real_run / f"{name}.tflite"
        p.write_bytes(data)
        clf = Classifier.load(p, mean=0.0, std=1.0, labels=shared.labels)
        results[name] = compare("tflite:uint8", run_artifact(clf, pixels), ref, labels, budget_points=2.0)
    assert results["bad"]["status"] == "over budget" and "points below the float model" in results["bad"]["reason"]
    assert results["bad"]["accuracy"] < results["good"]["accuracy"] - 0.2
    assert results["good"]["top1_agreement"] >= 0.9


@pytest.mark.slow
def test_sensitivity_table_and_selective_quantization(tiny_run: Path, tmp_path: Path) -> None:
    """Every int8 artifact gets a per-layer sensitivity table; with a zero budget, selective quantization runs,
    tries what costs no speed first (ONNX calibrations), and then keeps the most sensitive layers in float,
    verified again in the runtime, within the latency limit or saying why it stopped."""
    import shutil

    from edgetl.api import export

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    rows = export(run, ExportConfig(targets=("tflite:int8", "onnx:int8"), calibration_images=8, golden_images=1,
                                    accuracy_budget=0.0, selective=True, selective_max_slowdown=10.0,
                                    sensitivity_images=8))
    for r in rows:
        sens = r["sensitivity"]
        assert sens["split"] == "validation" and sens["layers"] and sens["metric"] in ("rmse_over_scale", "sqnr_db")
        assert r["calibration"]["images"] == 8 and "per_class" in r["calibration"]
        assert any("only 8 calibration images" in w for w in r["warnings"])
        if r["accuracy_drop_points"] > 0 or "selective" in r:
            sel = r["selective"]
            assert sel["split"] == "validation" and sel["tried"] and sel["plain_latency_ms"] > 0
            assert all("closer_z" in t for t in sel["tried"] if "error" not in t)
            taken = [t for t in sel["tried"] if sel.get("chosen") and (
                t.get("calibration") == sel.get("calibration") if sel.get("calibration")
                else t.get("float_layers") == len(sel.get("float_layers") or []))]
            assert bool(taken) == bool(sel.get("chosen")), sel  # what was kept is one of the candidates tried
            assert all(t["closer_z"] >= sel["min_z"] for t in taken)  # never taken on noise
            if not sel.get("chosen"):
                assert "kept the plain artifact" in sel["reason"] or "stopped" in sel["reason"]
            if sel.get("chosen") and sel.get("float_layers"):
                assert r["accuracy_drop_points"] <= 0.0 + 1e-9 or r["status"] != "ok"
            if sel.get("within_budget") is False:  # nothing met the budget: the closest no-cost variant is kept
                assert sel["chosen"] and not sel["float_layers"] and "still over the budget" in sel["reason"]
                kept = [t for t in sel["tried"] if t.get("calibration") == sel["calibration"]]
                assert kept and kept[0]["disagreement_points"] == pytest.approx(100 * (1 - r["top1_agreement"]),
                                                                                abs=2e-3)
    assert any("selective" in r for r in rows), "a zero budget must make selective quantization run"


@pytest.mark.slow  # over 10 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_weight_rounding_keeps_the_graph_and_lowers_each_layers_error(tiny_run: Path) -> None:
    """Re-rounding the int8 weights (TFLite and ONNX) changes only weight values and scales: the same ops, the
    same tensors, a model that runs in its runtime; each re-rounded layer's output error goes down."""
    from edgetl.api import find_stage
    from edgetl.formats.tflite.convert import (
        calibrated_model,
        quantize_calibrated,
        saved_model_to_tflite,
    )
    from edgetl.formats.onnx.export import _float
    from edgetl.export.inputs import ExportInputs
    from edgetl.quantize.calibration import representative
    from edgetl.formats.onnx.int8 import quantize_onnx
    from edgetl.formats.tflite.rounding import tflite_round_weights
    from edgetl.runtime.tflite_file import read_opcodes
    from onnx import numpy_helper

    cfg = ExportConfig(calibration_images=8)
    shared = ExportInputs.open(find_stage(tiny_run, "train"), cfg)
    cal = calibrated_model(shared.saved_model, "tflite:int8", representative=representative(shared.calibration))
    plain = quantize_calibrated(cal, "tflite:int8")
    one_shot = saved_model_to_tflite(shared.saved_model, "int8", representative=representative(shared.calibration))
    assert [o.builtin_code for o in read_opcodes(plain)] == [o.builtin_code for o in read_opcodes(one_shot)]
    rounded, summary = tflite_round_weights(plain, cal, shared.calibration, mode="gptq")
    assert summary["layers"] >= 1 and summary["output_error_reduction_median"] > 1.0, summary
    chosen, why = tflite_round_weights(plain, cal, shared.calibration)  # the default chooses on held-back inputs
    errs = why["held_back_output_error"]
    assert why["held_back"] == 2 and set(errs) >= {"nearest"} and why["chosen"] in errs
    assert errs[why["chosen"]] == min(errs.values()) or why["chosen"] == "nearest"
    assert (chosen == plain) == (why["chosen"] == "nearest")
    assert rounded != plain and len(rounded) == pytest.approx(len(plain), rel=0.01)
    assert [o.builtin_code for o in read_opcodes(rounded)] == [o.builtin_code for o in read_opcodes(plain)]

    qdq = quantize_onnx(_float(shared, cfg), mode="static", pixels=shared.calibration, per_channel=True)
    before = [(n.op_type, list(n.input)) for n in qdq.graph.node]
    # the calibrator gets the images in chunks (here 3 x 8 = 24 images: two chunks of 12); min-max over the
    # same images three times over is the same range, so the chunks must merge to the one-call result
    tripled = quantize_onnx(_float(shared, cfg), mode="static", pixels=np.concatenate([shared.calibration] * 3),
                            per_channel=True)
    scales = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer if i.name.endswith("_scale")}
    again = {i.name: numpy_helper.to_array(i) for i in tripled.graph.initializer if i.name.endswith("_scale")}
    assert scales.keys() == again.keys() and all(np.allclose(scales[k], again[k]) for k in scales)
    rounded_onnx = quantize_onnx(_float(shared, cfg), mode="static", pixels=shared.calibration, per_channel=True,
                                 round_weights="gptq")
    assert [(n.op_type, list(n.input)) for n in rounded_onnx.graph.node] == before
    changed = [a.name for a, b in zip(sorted(qdq.graph.initializer, key=lambda i: i.name),
                                      sorted(rounded_onnx.graph.initializer, key=lambda i: i.name)) if a != b]
    assert any(c.endswith("_quantized") for c in changed), changed
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    _, pixels, _ = shared.validation
    it = Interpreter(model_content=rounded)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = i["quantization"]
    it.set_tensor(i["index"], np.clip(np.round(pixels[:1] / scale + zero), -128, 127).astype(np.int8))
    it.invoke()
    assert it.get_tensor(o["index"]).shape[-1] == len(shared.labels)
    sess = ort.InferenceSession(rounded_onnx.SerializeToString(), providers=["CPUExecutionProvider"])
    probs = sess.run(None, {sess.get_inputs()[0].name: np.asarray(pixels[:2], np.float32)})[0]
    assert probs.shape == (2, len(shared.labels)) and np.all(np.isfinite(probs))


def test_phone_clients_load_each_file_and_agree_with_the_runtime(exported: list[dict]) -> None:
    """MediaPipe Tasks (as an app loads the file: default options, standard metadata), onnx.checker, OpenVINO."""
    assert {r["target"] for r in exported} == set(FAST)
    check_clients(exported)


@pytest.mark.slow
def test_phone_clients_on_every_target(exported_every: list[dict]) -> None:
    assert {r["target"] for r in exported_every} == set(EVERY)
    check_clients(exported_every)


def check_clients(exported: list[dict]) -> None:
    import mediapipe  # noqa: F401  (the clients extra: a missing client must fail here, not skip)
    import openvino  # noqa: F401

    for r in exported:
        rows = {c["client"]: c for c in r["clients"]}
        assert r["use"], r["target"]
        if r["path"].endswith(".tflite"):
            mp = rows["mediapipe ImageClassifier"]
            if r["target"] == "tflite:int8":  # int8 input: no task library takes it, and the report says so
                assert mp["status"] == "refused" and "INT8" in mp["detail"] and "not phone apps" in r["use"]
            else:
                assert mp["status"] == "ok" and mp["agreement"] >= 0.99 and mp["items"] == r["images"], (r["target"], mp)
                assert mp["own_resize_agreement"] is not None
        elif r["path"].endswith(".xml"):  # an OpenVINO IR: OpenVINO loading both files from disk by itself
            ov = rows["openvino CPU"]
            assert set(rows) == {"openvino CPU"} and "OpenVINO" in r["use"] and r["backend"].startswith("openvino "), r
            assert ov["items"] == r["images"] and ov["status"] == "ok" and ov["agreement"] >= 0.99, ov
        else:
            assert rows["onnx.checker (full_check)"]["status"] == "ok", r["target"]
            ov = rows["openvino CPU"]
            assert ov["items"] == r["images"] and ov["agreement"] is not None
            if r["target"] in ("onnx:fp32", "onnx:fp16"):
                assert ov["status"] == "ok" and ov["agreement"] == 1.0, ov


def _strip_contract(src: Path, dst: Path, standard: bytes | None = None, files: dict | None = None) -> Path:
    """``src`` without its edgetl contract (a foreign file): only the standard metadata, optionally replaced."""
    import zipfile

    from tensorflow.lite.tools import flatbuffer_utils as fu

    from edgetl.formats.tflite.convert import embed_metadata

    data = src.read_bytes()
    model = fu.read_model_from_bytearray(bytearray(data))
    model.metadata = [m for m in model.metadata if m.name not in (b"edgetl_contract", "edgetl_contract")]
    out = bytes(fu.convert_object_to_bytearray(model))
    if standard is not None:
        out = embed_metadata(out, {"TFLITE_METADATA": standard})
    import io

    if files is None:
        with zipfile.ZipFile(io.BytesIO(data)) as z:  # the associated files again, zipped onto the end
            files = {n: z.read(n) for n in z.namelist()}
    from edgetl.formats.tflite.metadata import attach_files

    dst.write_bytes(attach_files(out, files))
    return dst


def test_a_file_with_only_standard_metadata_runs_with_its_labels_and_absurd_metadata_is_refused(
        exported: list[dict], tmp_path: Path) -> None:
    from edgetl.errors import ModelFileError, RuntimeBackendError
    from edgetl.formats.tflite.metadata import ModelCard, build
    from edgetl.runtime import Classifier

    r = next(r for r in exported if r["target"] == "tflite:fp32")
    src = Path(r["path"])
    foreign = _strip_contract(src, tmp_path / "foreign.tflite")
    clf, ours = Classifier.load(foreign), Classifier.load(src)
    assert clf.labels == ours.labels == ("cyan", "magenta", "yellow")
    x = np.full((32, 32, 3), 200, np.uint8)
    assert np.allclose(clf.scores(x), ours.scores(x), atol=1e-6)
    card = ModelCard("m", "d", "1", "a", "")
    side = json.loads((src.parent / (src.name + ".json")).read_text())
    for mean, std, words in ((float("nan"), 1.0, "not all finite"), (0.0, 0.0, "std"), (400.0, 1.0, "pixel range")):
        meta, _ = build({**side, "input": {**side["input"], "mean": [mean], "std": [std]}}, card)
        bad = _strip_contract(src, tmp_path / "absurd.tflite", meta)
        with pytest.raises(ModelFileError, match=words):
            Classifier.load(bad)
    two = _strip_contract(src, tmp_path / "two.tflite", files={"labels.txt": b"a\nb\n"})  # 2 names, 3 outputs
    with pytest.raises(RuntimeBackendError, match="2 labels for 3 model outputs"):
        Classifier.load(two)
    tampered = tmp_path / "tampered.tflite"  # contract and standard metadata disagree: refused, not guessed
    from edgetl.formats.tflite.convert import embed_metadata

    meta, files = build({**side, "input": {**side["input"], "mean": [127.5], "std": [127.5]}}, card)
    from edgetl.formats.tflite.metadata import attach_files

    tampered.write_bytes(attach_files(embed_metadata(src.read_bytes()[:_flatbuffer_end(src)], {"TFLITE_METADATA": meta}),
                                      files))
    with pytest.raises(ModelFileError, match="disagree"):
        Classifier.load(tampered)


def _flatbuffer_end(path: Path) -> int:
    """Where the zip of associated files starts (the flatbuffer is everything before it)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return min(i.header_offset for i in z.infolist())


def test_selftest_without_the_sidecar_says_which_file_to_copy(exported: list[dict], tmp_path: Path) -> None:
    from edgetl.errors import RuntimeBackendError
    from edgetl.runtime import Classifier

    src = Path(next(r["path"] for r in exported if r["target"] == "tflite:uint8"))
    lone = tmp_path / src.name
    lone.write_bytes(src.read_bytes())
    with pytest.raises(RuntimeBackendError, match=f"needs the sidecar {src.name}.json") as e:
        Classifier.load(lone).selftest()
    assert "golden_images > 0" not in str(e.value)
