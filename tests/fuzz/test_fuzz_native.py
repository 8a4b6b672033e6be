"""Native loaders under fuzzing, each in a child process so that a crash is reported, not fatal."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = int(os.environ.get("EDGETL_FUZZ_EXAMPLES", "150"))
REPO = Path(__file__).resolve().parents[2]


def run_fuzz(kind: str, seed: Path, cases: int, opts: dict | None = None) -> dict:
    p = subprocess.run([sys.executable, "-m", "tests.fuzz.native_fuzz", kind, str(seed), str(cases),
                        json.dumps(opts or {})], cwd=REPO, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        last = [l for l in p.stderr.splitlines() if l.startswith("case ")][-1:]
        pytest.fail(f"{kind} loader crashed (exit {p.returncode}) at {last}: {p.stderr[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_litert_through_the_classifier(shared: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    r = run_fuzz("tflite", shared / "models/tf2_mobilenet_v2_1.0_224_ptq.tflite", CASES, {"mean": 127.5, "std": 127.5})
    assert r["other_exception"] == 0, r["examples"]
    assert r["cases"] == CASES


def _tiny_onnx(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Transpose", ["image"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Softmax", ["f"], ["y"])]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 8, 8, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_onnx_runtime_through_the_classifier(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    r = run_fuzz("onnx", _tiny_onnx(tmp_path / "tiny.onnx"), CASES, {"mean": 0.0, "std": 1.0})
    assert r["other_exception"] == 0, r["examples"]


@pytest.mark.slow  # over 5 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_keras_files(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    inp = keras.Input((8, 8, 3))
    m = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(4, 3)(inp))))
    m.save(tmp_path / "tiny.keras")
    r = run_fuzz("keras", tmp_path / "tiny.keras", max(20, CASES // 5))
    assert r["other_exception"] == 0, r["examples"]
