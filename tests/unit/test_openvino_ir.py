"""The OpenVINO IR format: a real IR (converted by OpenVINO from a small ONNX model) in edgetl's runtime, and the
two-file rules (weights beside the XML, from one export, inside the model's folder) against crafted files."""
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgetl.errors import EdgetlError, ModelFileError  # noqa: E402
from edgetl.runtime import Classifier  # noqa: E402

W = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
CONTRACT = {"schema": 1, "format": "openvino", "precision": "fp32",
            "input": {"shape": [1, 4, 4, 3], "layout": "NHWC", "dtype": "float32", "mean": [0, 0, 0],
                      "std": [255, 255, 255]},
            "output": {"kind": "probabilities"}, "labels": ["left", "right"]}


def _ir(folder: Path, name: str = "model", weights: np.ndarray = W, contract: dict | None = CONTRACT) -> Path:
    """mean over the pixels -> MatMul -> Softmax, as an IR with edgetl's rt_info (what the exporter writes)."""
    import openvino as ov

    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2], keepdims=0),
             helper.make_node("MatMul", ["m", "W"], ["z"]), helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                          [numpy_helper.from_array(weights, "W")])
    model = ov.convert_model(io.BytesIO(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
                                        .SerializeToString()))
    folder.mkdir(parents=True, exist_ok=True)
    xml = folder / f"{name}.xml"
    ov.save_model(model, xml, compress_to_fp16=False)
    if contract is not None:
        model.set_rt_info(json.dumps(contract), ["edgetl", "contract"])
        model.set_rt_info(hashlib.sha256(xml.with_suffix(".bin").read_bytes()).hexdigest(),
                          ["edgetl", "weights_sha256"])
        ov.save_model(model, xml, compress_to_fp16=False)
    return xml


def _expected(img: np.ndarray, weights: np.ndarray = W) -> np.ndarray:
    z = (img.astype(np.float32) / 255).mean(axis=(0, 1)) @ weights
    e = np.exp(z - z.max())
    return e / e.sum()


def test_an_ir_runs_in_edgetls_runtime_with_its_embedded_contract(tmp_path: Path) -> None:
    xml = _ir(tmp_path)
    clf = Classifier.load(xml, threads=1)
    assert clf.backend_name == "openvino" and clf.labels == ("left", "right")
    img = np.random.default_rng(1).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    assert np.allclose(clf.scores(img), _expected(img), atol=1e-5)
    with clf._backend() as b:  # OpenVINO's own default is bf16 on CPUs with AVX-512 BF16 or AMX: pinned to f32
        assert str(b._compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"


def test_weights_of_another_export_are_refused_not_run(tmp_path: Path) -> None:
    xml = _ir(tmp_path / "a")
    other = _ir(tmp_path / "b", weights=-W)
    xml.with_suffix(".bin").write_bytes(other.with_suffix(".bin").read_bytes())  # same size, other numbers
    with pytest.raises(ModelFileError, match=r"model\.bin: not the weights model\.xml was exported with"):
        Classifier.load(xml)


def test_missing_truncated_or_outside_weights_are_one_line_errors(tmp_path: Path) -> None:
    xml = _ir(tmp_path / "m")
    good = xml.with_suffix(".bin").read_bytes()
    xml.with_suffix(".bin").unlink()
    with pytest.raises(ModelFileError, match=r"model\.bin: missing\. An OpenVINO IR is two files"):
        Classifier.load(xml)
    xml.with_suffix(".bin").write_bytes(good[:5])
    with pytest.raises(ModelFileError, match="not one export"):
        Classifier.load(xml)
    xml.with_suffix(".bin").unlink()
    (tmp_path / "secret.bin").write_bytes(good)
    xml.with_suffix(".bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(ModelFileError, match="a link that leads out of the model's folder"):
        Classifier.load(xml)


@pytest.mark.parametrize("body, message", [
    (b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><net>&b;</net>', "entities"),
    (b'<!DOCTYPE net SYSTEM "file:///etc/passwd"><net/>', "document type"),
    (b"<html><body/></html>", "not an OpenVINO IR"),
    (b"<net><layers><layer", "not well-formed XML"),
    (b'<net><layers><layer id="0" type="Const"><data offset="0" size="99999999999"/></layer></layers></net>',
     "not one export"),
    (b'<net><layers><layer id="0" type="Const"><data offset="x" size="1"/></layer></layers></net>', "malformed"),
])
def test_crafted_xml_is_refused_before_openvino_reads_it(tmp_path: Path, body: bytes, message: str) -> None:
    xml = tmp_path / "crafted.xml"
    xml.write_bytes(body)
    xml.with_suffix(".bin").write_bytes(b"\0" * 16)
    with pytest.raises(EdgetlError, match=message) as err:
        Classifier.load(xml, mean=0, std=1)
    assert "crafted" in str(err.value) and "\n" not in str(err.value)


def test_host_openvino_takes_ir_only_and_the_handoff_copies_both_files(tmp_path: Path) -> None:
    from edgetl.bench.handoff import steps
    from edgetl.devices import load_profile

    dev = load_profile("host-openvino")
    assert dev.accepts("openvino:int8")[0] and dev.accepts("openvino:fp32")[0]
    assert not dev.accepts("onnx:int8")[0] and not dev.accepts("tflite:fp32")[0]
    xml = _ir(tmp_path)
    scp = next(s for s in steps({"access": {"kind": "ssh", "host": "board"}}, xml, {"threads": 1})
               if s.startswith("scp"))
    assert "model.xml" in scp and "model.bin" in scp
