"""The runtime on real LiteRT and ONNX Runtime: the foreign Coral model, threads, predict without TF."""
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from edgetl.errors import ConfigError, RuntimeBackendError
from edgetl.runtime import Classifier

pytestmark = pytest.mark.litert
pytest.importorskip("ai_edge_litert")
FOREIGN = "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"
DAISY = 986  # ImageNet "daisy" in the 1001-class (background first) labelling


def test_foreign_model_runs_from_its_standard_metadata_then_classifies_daisies(shared: Path) -> None:
    meta = Classifier.load(shared / FOREIGN, threads=1)  # Google's file: normalization and labels in its metadata
    assert meta.contract.mean == (127.5,) * 3 and meta.contract.std == (127.5,) * 3
    assert len(meta.labels) == 1001 and meta.labels[0] == "background" and "daisy" in meta.labels[DAISY]
    daisies = sorted((shared / "datasets/flowers_mini/daisy").iterdir())[:10]
    assert [meta.classify(p, top_k=1)[0].index for p in daisies].count(DAISY) >= 7
    clf = Classifier.load(shared / FOREIGN, mean=127.5, std=127.5, labels=[], threads=1)
    assert clf.input_dtype == np.uint8 and clf.input_shape == (1, 224, 224, 3)
    top = [clf.classify(p, top_k=1)[0].index for p in daisies]
    assert top.count(DAISY) >= 7, top
    assert clf.classify(daisies[0])[0].label == f"class_{DAISY}"


def test_eight_threads_get_the_single_thread_answers(shared: Path) -> None:
    clf = Classifier.load(shared / FOREIGN, mean=127.5, std=127.5, threads=1, workers=2)
    imgs = sorted((shared / "datasets/flowers_mini/roses").iterdir())[:8]
    expected = [clf.scores(p) for p in imgs]
    errors: list[str] = []

    def worker(k: int) -> None:
        for i in range(12):
            j = (k + i) % len(imgs)
            if not np.array_equal(clf.scores(imgs[j]), expected[j]):
                errors.append(f"thread {k} image {j}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_bad_inputs_get_clear_errors(shared: Path, tmp_path: Path) -> None:
    clf = Classifier.load(shared / FOREIGN, mean=127.5, std=127.5)
    with pytest.raises(RuntimeBackendError, match="must be uint8 of shape \\[1, 224, 224, 3\\]"):
        clf.scores_from_input(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(RuntimeBackendError, match=r"\(H, W, 3\)"):
        clf.classify(np.zeros((5, 5, 5, 5), np.uint8))
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(RuntimeBackendError, match="junk.jpg"):
        clf.classify(junk)
    bad_model = tmp_path / "bad.tflite"
    bad_model.write_bytes(b"\x00" * 100)
    with pytest.raises(RuntimeBackendError, match="not a TFLite model"):
        Classifier.load(bad_model, mean=0, std=1)
    with pytest.raises(ConfigError, match="backend .onnxruntime. does not run it. Use litert or tflite-runtime"):
        Classifier.load(shared / FOREIGN, backend="onnxruntime")


def test_op_version_error_names_the_fix() -> None:
    from edgetl.runtime.backends.litert import explain_op_error

    e = explain_op_error(RuntimeError("Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'. An older "
                                      "version of this builtin might be supported."), "m.tflite", "tflite-runtime", "2.14.0")
    assert "FULLY_CONNECTED version 12" in str(e) and "pip install -U ai-edge-litert" in str(e)


def test_predict_cli_json_without_tensorflow(shared: Path) -> None:
    code = ("import sys, json\nfrom edgetl.cli.main import cli\n"
            f"sys.argv=['edgetl','predict',{str(shared / FOREIGN)!r},{str(shared / 'datasets/flowers_mini/daisy')!r},"
            "'--mean','127.5','--std','127.5','--json','--top-k','2']\n"
            "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow','keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text, heavy = out.stdout.rsplit("\n", 2)[0], out.stdout.strip().splitlines()[-1]
    assert json.loads(heavy) == []
    rows = json.loads(text)
    assert len(rows) == 40 and {"image", "label", "score", "top_k"} <= set(rows[0]) and len(rows[0]["top_k"]) == 2
    assert sum(r["index"] == DAISY for r in rows) >= 30
