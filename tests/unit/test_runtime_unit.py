"""Runtime pieces that need only numpy (plus the foreign model from ../shared where it is read)."""
import json
from pathlib import Path

import numpy as np
import pytest

from edgetl.errors import RuntimeBackendError
from edgetl.runtime.contract import Contract, load_contract
from edgetl.runtime.preprocess import InputWriter, dequantize
from edgetl.runtime.tflite_file import check_header, read_metadata, read_opcodes

FOREIGN = "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"


def test_reads_foreign_tflite_structure(shared: Path) -> None:
    data = (shared / FOREIGN).read_bytes()
    meta = read_metadata(data)
    assert "min_runtime_version" in meta and "edgetl_contract" not in meta
    ops = read_opcodes(data)
    codes = {o.builtin_code for o in ops}
    assert {3, 4, 22} <= codes  # CONV_2D, DEPTHWISE_CONV_2D, RESHAPE
    assert all(o.version >= 1 for o in ops)


def test_reader_refuses_garbage_and_truncation(shared: Path) -> None:
    with pytest.raises(RuntimeBackendError, match="not a TFLite model"):
        check_header(b"\x00" * 64)
    with pytest.raises(RuntimeBackendError, match="too small"):
        read_metadata(b"TFL3")
    data = (shared / FOREIGN).read_bytes()
    with pytest.raises(RuntimeBackendError, match="not a valid TFLite model"):
        read_metadata(data[: len(data) // 10])


def _contract(**inp) -> Contract:
    return Contract.from_dict({"schema": 1, "input": {"shape": [1, 2, 2, 3], **inp}, "labels": ["a", "b"]})


def test_contract_errors() -> None:
    with pytest.raises(RuntimeBackendError, match="malformed contract"):
        Contract.from_dict({"input": {}})
    with pytest.raises(RuntimeBackendError, match="newer than this runtime"):
        Contract.from_dict({"schema": 99, "input": {"shape": [1, 2, 2, 3]}})
    with pytest.raises(RuntimeBackendError, match="malformed"):
        _contract(mean=[1, 2])
    with pytest.raises(RuntimeBackendError, match="malformed"):
        _contract(layout="HWC")


def test_sidecar_json_errors_name_the_file(tmp_path: Path) -> None:
    m = tmp_path / "m.tflite"
    m.write_bytes(b"x")
    (tmp_path / "m.tflite.json").write_text("{oops")
    with pytest.raises(RuntimeBackendError, match="m.tflite.json: the contract is not valid JSON"):
        load_contract(m)


def test_input_writer_float_and_quantized() -> None:
    px = np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20
    out = np.zeros((1, 2, 2, 3), np.float32)
    InputWriter(_contract(), np.float32, None)(px, out)
    assert np.array_equal(out[0], px.astype(np.float32))
    InputWriter(_contract(mean=127.5, std=127.5), np.float32, None)(px, out)
    assert np.allclose(out[0], px / 127.5 - 1)
    q = np.zeros((1, 2, 2, 3), np.uint8)
    w = InputWriter(_contract(), np.uint8, (1.0, 0))
    assert w.passthrough
    w(px, q)
    assert np.array_equal(q[0], px)
    qi = np.zeros((1, 2, 2, 3), np.int8)
    InputWriter(_contract(), np.int8, (1.0, -128))(px, qi)
    assert np.array_equal(qi[0].astype(int), px.astype(int) - 128)
    # a [-1, 1] model quantized with scale 1/128, zero point 128 (the foreign Coral model)
    InputWriter(_contract(mean=127.5, std=127.5), np.uint8, (1 / 128, 128))(px, q)
    assert np.abs(q[0].astype(int) - px.astype(int)).max() <= 1


def test_dequantize() -> None:
    assert np.allclose(dequantize(np.array([0, 128, 255], np.uint8), (1 / 256, 0)), [0, 0.5, 255 / 256])
