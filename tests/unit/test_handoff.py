"""The hand-off at the end of a run: per device the file under artifacts/, what it gives and its commands."""
from __future__ import annotations

from pathlib import Path

from edgetl.bench.handoff import handoff_lines, handoffs


def _doc(stage: Path) -> dict:
    art = str(stage / "model_int8.tflite")
    return {
        "devices": {"host-cpu": {"name": "host-cpu", "access": {"kind": "local"}},
                    "pi": {"name": "pi", "os_arch": "aarch64",
                           "access": {"kind": "ssh", "host": "10.0.0.7", "user": "me", "port": 2222}},
                    "coral-usb": {"name": "coral-usb", "delegate": "edgetpu", "access": {"kind": "none"}},
                    "arm64-emulated": {"name": "arm64-emulated", "emulated": True}},
        "rows": [{"artifact": art, "device": "pi", "threads": 4, "size_bytes": 3,
                  "estimate": {"p50_ms": 27.5, "p50_ms_low": 14.8, "p50_ms_high": 46.0, "expected_error": "median 25%"}}],
        "best": [{"device": "host-cpu", "artifact": art, "target": "tflite:int8", "threads": 2, "p50_ms": 1.7,
                  "basis": "measured", "reliable": False, "unreliable_reason": "others used 52% of the CPUs",
                  "accuracy": 0.93},
                 {"device": "pi", "artifact": art, "target": "tflite:int8", "threads": 4, "p50_ms": 27.5,
                  "basis": "estimate", "reliable": None, "accuracy": 0.93},
                 {"device": "coral-usb", "artifact": art, "target": "tflite:int8", "threads": 1, "p50_ms": 2.0,
                  "basis": "estimate", "accuracy": 0.93},
                 {"device": "arm64-emulated", "artifact": None, "emulated": True, "why": "emulated: names no fastest"}]}


def test_each_device_gets_its_file_under_artifacts_its_numbers_and_commands(tmp_path: Path) -> None:
    stage, arts = tmp_path / "export_tflite_int8-abc", tmp_path / "artifacts"
    stage.mkdir()
    arts.mkdir()
    for d in (stage, arts):
        (d / "model_int8.tflite").write_bytes(b"not a model")
    (arts / "model_int8.tflite.json").write_text("{}")
    (arts / "labels.txt").write_text("a\nb\n")
    exports = [{"target": "tflite:int8", "accuracy": 0.9307, "test": {"accuracy": 0.9196}}]
    host, pi, coral, emu = handoffs(_doc(stage), arts, exports)
    assert host["file"] == str(arts / "model_int8.tflite") and host["test_top1"] == 0.9196
    assert "UNRELIABLE (others used 52% of the CPUs)" in host["latency"]
    assert host["steps"] == [f"edgetl predict {arts / 'model_int8.tflite'} photo.jpg --threads 2   "
                             "# or in an app: examples/device_app/app.py"]
    assert pi["latency"].startswith("estimate 27.5 ms, range 14.8-46.0 ms (not measured")
    scp, install, run = pi["steps"]
    assert scp.startswith("scp -P 2222 ") and scp.endswith(" me@10.0.0.7:~/")
    assert all(str(arts / f) in scp for f in ("model_int8.tflite", "model_int8.tflite.json", "labels.txt"))
    assert 'pip install "edgetl[runtime]"' in install and "64-bit OS" in install
    assert run == "ssh me@10.0.0.7 '~/edgetl/bin/edgetl predict model_int8.tflite photo.jpg --threads 4'"
    compile_step = coral["steps"][0]
    assert compile_step.startswith("edgetpu_compiler -s -o ") and "coral.ai/docs/edgetpu/compiler" in compile_step
    assert "model_int8_edgetpu.tflite" in coral["steps"][1] and "libedgetpu" in coral["steps"][-1]
    assert emu == {"device": "arm64-emulated", "file": None, "why": "emulated: names no fastest"}
    text = "\n".join(handoff_lines([host, pi, coral, emu]))
    assert "validation top-1 0.9307 test 0.9196" in text and "arm64-emulated: nothing to hand off" in text


def test_a_text_model_is_run_with_a_text_and_a_stage_file_when_there_is_no_artifacts_folder(tmp_path: Path) -> None:
    stage = tmp_path / "export_tflite_int8-abc"
    stage.mkdir()
    (stage / "model_int8.tflite").write_bytes(b"x")
    host = handoffs(_doc(stage), None, kind="text")[0]
    assert host["file"] == str(stage / "model_int8.tflite") and host["validation_top1"] == 0.93
    assert "--text " in host["steps"][0] and "text_app.py" in host["steps"][0]
