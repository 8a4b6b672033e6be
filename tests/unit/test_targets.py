"""The target table: one description per format and precision, and cache keys that cannot forget a field."""
from __future__ import annotations

import dataclasses

import pytest

from edgetl import targets
from edgetl.config import ExportConfig
from edgetl.errors import ConfigError


def test_every_target_is_described_once_and_consistently() -> None:
    for name, t in targets.TARGETS.items():
        assert t.name == name and t.filename.endswith(t.format.suffix)
        assert t.is_float_reference == (t.precision == "fp32")
        assert not t.full_integer or (t.calibrated and t.io_dtype in ("int8", "uint8"))
        assert t.format.exporter.startswith("edgetl.formats.")
    assert "onnx:fp16" in targets.TARGETS and targets.get("ONNX:FP16").name == "onnx:fp16"
    with pytest.raises(ConfigError, match="Did you mean 'tflite:int8'"):
        targets.get("tflite:int9")


def test_every_export_option_enters_some_cache_key() -> None:
    """Changing any ExportConfig field changes at least one target's key, unless the field is tagged 'none'
    (the target list itself). An untagged new field enters every key: a miss, never a stale hit."""
    base = ExportConfig()
    changed = {"targets": ("tflite:fp32",), "calibration_images": 7, "verify_images": 5, "accuracy_budget": 1.0,
               "opset": 13, "onnx_per_channel": False, "onnx_int8_mode": "dynamic", "allow_flex_ops": True,
               "golden_images": 1, "sensitivity_images": 3, "selective": True, "selective_max_slowdown": 2.0,
               "round_weights": False, "author": "me", "license": "MIT"}
    fields = {f.name: f for f in dataclasses.fields(ExportConfig)}
    assert set(changed) == set(fields), "a new ExportConfig field: add it here with a changed value"
    for name, value in changed.items():
        other = base.replace(**{name: value})
        moved = [t for t in targets.TARGETS.values() if targets.key_config(t, base) != targets.key_config(t, other)]
        tag = fields[name].metadata.get(targets.AFFECTS, targets.ALL)
        if tag == targets.NONE:
            assert not moved, name
        else:
            assert moved and all(targets.affects(t, tag) for t in moved), name
            assert all(t in moved for t in targets.TARGETS.values() if targets.affects(t, tag)), name


def test_devices_accept_by_runtime_format_and_integer_need() -> None:
    from edgetl.devices import load_profile

    cpu, onnx, coral, gpu = (load_profile(n) for n in ("host-cpu", "host-onnx", "coral-usb", "cuda-gpu"))
    assert cpu.accepts("tflite:fp16")[0] and not cpu.accepts("onnx:fp32")[0]
    assert onnx.accepts("onnx:fp16")[0] and gpu.accepts("onnx:fp16")[0]
    ok, why = coral.accepts("tflite:fp32")
    assert not ok and "tflite:fp32" in why
    assert coral.accepts("tflite:uint8")[0]


def test_each_format_names_a_runtime_of_the_runtime_table_and_a_full_exporter() -> None:
    """The runtime's one suffix table (edgetl.runtime.backends.RUNTIMES) runs every format's files; every
    exporter module has the functions of the Exporter protocol (and CalibratedExporter for int8 targets)."""
    pytest.importorskip("tensorflow")
    from edgetl.formats import exporter
    from edgetl.runtime.backends import RUNTIMES, runtime_for
    from edgetl.targets import FORMATS, TARGETS

    for f in FORMATS.values():
        assert f.runtime in RUNTIMES and RUNTIMES[f.runtime].suffix == f.suffix, f
        assert runtime_for(f"model{f.suffix.upper()}") is RUNTIMES[f.runtime]
    for t in TARGETS.values():
        exporter(t)  # raises when a function is missing
