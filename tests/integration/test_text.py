"""Text classification end to end on a tiny random BERT (2 layers, hidden 32): data, train, export, runtime, CLI.

The real encoder (MiniLM from ../shared) is measured in benchmarks/text_main_job.py; here the same code paths
run on a model small enough for the fast suite.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetl.errors import DataError, WeightsError
from edgetl.text.data import is_text_data, load_texts
from tests.conftest import make_text_csv, make_tiny_bert


def test_csv_tsv_jsonl_and_folders_load_with_unusable_rows_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b'text,label\n"hello, there",greet\n,greet\nbye now,leave\n\xff\xfe bad,leave\n'
                                     b"solo\n")
    ds = load_texts(tmp_path / "a.csv")
    assert ds.classes == ["greet", "leave"] and ds.texts == ["hello, there", "bye now"]
    reasons = sorted(r for _, r in ds.skipped)
    assert reasons == ["empty text", "no label", "not UTF-8"] and all("a.csv line" in w for w, _ in ds.skipped)
    with pytest.raises(DataError, match="strict"):
        load_texts(tmp_path / "a.csv", strict=True)
    (tmp_path / "b.tsv").write_text("sentence\tintent\nwhere is it\tq\nhi\tchat\n", encoding="utf-8")
    assert load_texts(tmp_path / "b.tsv", text_column="sentence", label_column="intent").classes == ["chat", "q"]
    with pytest.raises(DataError, match="no column 'text'.*sentence"):
        load_texts(tmp_path / "b.tsv")
    (tmp_path / "c.jsonl").write_text('{"text": "x y", "label": "A"}\nnot json\n{"text": "z", "label": 2}\n')
    ds = load_texts(tmp_path / "c.jsonl")
    assert ds.classes == ["2", "A"] and len(ds.skipped) == 1
    folder = tmp_path / "folders"
    for c in ("pos", "neg"):
        (folder / c).mkdir(parents=True)
        (folder / c / "1.txt").write_text(f"a {c} text", encoding="utf-8")
    (folder / "pos" / "link.txt").symlink_to(tmp_path / "a.csv")  # leads out of the folder: never read
    ds = load_texts(folder)
    assert is_text_data(folder) and ds.counts() == {"neg": 1, "pos": 1} and len(ds.skipped) == 1
    (tmp_path / "one.csv").write_text("text,label\na,x\nb,x\n")
    with pytest.raises(DataError, match="at least two"):
        load_texts(tmp_path / "one.csv")
    (tmp_path / "ctl.csv").write_text("text,label\na,x\nb,\"y\u202e\"\n")
    with pytest.raises(DataError, match="Label"):
        load_texts(tmp_path / "ctl.csv")


def test_a_damaged_safetensors_file_is_refused_with_its_name(tmp_path: Path) -> None:
    from edgetl.text.encoder import read_safetensors

    folder = make_tiny_bert(tmp_path / "bert")
    data = (folder / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="cut.safetensors.*outside the file"):
        read_safetensors(tmp_path / "cut.safetensors")
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(WeightsError, match="huge.safetensors.*header"):
        read_safetensors(tmp_path / "huge.safetensors")
    with pytest.raises(WeightsError, match="sha256"):
        read_safetensors(folder / "model.safetensors", expected_sha256="0" * 64)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    from edgetl import TrainConfig
    from edgetl.api import export, train
    from edgetl.config import ExportConfig

    root = tmp_path_factory.mktemp("text")
    bert = make_tiny_bert(root / "tiny-bert")
    data = make_text_csv(root / "texts.csv")
    os.environ.setdefault("EDGETL_CACHE_DIR", str(root / "cache"))
    train(TrainConfig(data=str(data), backbone="minilm_l6", weights=str(bert), epochs=30, fine_tune_epochs=3,
                      fine_tune_lr=1e-4, head_units=16, test_split=0.2, seed=0, patience=5), root / "run", progress=False)
    cwd, empty = os.getcwd(), root / "cwd"
    empty.mkdir()
    os.chdir(empty)  # exports write nowhere but their stage folders (ONNX Runtime's tools like the current folder)
    try:
        export(root / "run", ExportConfig(targets=FAST, calibration_images=20))
    finally:
        os.chdir(cwd)
    assert not list(empty.iterdir())
    return root / "run"


# the fast suite's text exports: a float file, and the two calibrated or quantized ones; the slow suite adds
# tflite:dynamic, onnx:fp32 and the OpenVINO IRs to the same run (the three stages above are reused)
FAST = ("tflite:fp32", "tflite:int8", "onnx:int8")
EVERY = ("tflite:fp32", "tflite:dynamic", "tflite:int8", "onnx:fp32", "onnx:int8", "openvino:fp32")


@pytest.fixture(scope="module")
def text_every(text_run: Path) -> Path:
    from edgetl.api import export
    from edgetl.config import ExportConfig

    export(text_run, ExportConfig(targets=EVERY, calibration_images=20))
    return text_run


def test_text_training_reports_length_strategies_and_splits(text_run: Path) -> None:
    train_dir = next(text_run.glob("train-*"))
    m = json.loads((train_dir / "metrics.json").read_text())
    assert m["kind"] == "text" and m["model"]["backbone"] == "minilm_l6"
    assert 16 <= m["sequence"]["length"] <= 128 and m["sequence"]["length"] % 8 == 0
    assert m["strategy"]["strategy"] == "fine_tune" and "feature_extraction_val_top1" in m["strategy"]
    ft = m["fine_tune"]  # the text recipe: AdamW with decoupled decay, smoothed labels, warm-up + cosine decay
    assert (ft["optimizer"], ft["weight_decay"], ft["label_smoothing"]) == ("AdamW", 0.01, 0.1)
    assert m["data"]["train_texts"] + m["data"]["val_texts"] + m["data"]["test_texts"] == 72
    assert m["validation"]["top1"] > 0.6  # three classes with disjoint words: even random features separate them
    assert json.loads((train_dir / "tokenizer.json").read_text())["type"] == "wordpiece"


def test_every_artifact_matches_keras_and_carries_its_tokenizer(text_run: Path) -> None:
    rows = _rows(text_run)
    assert set(rows) == set(FAST)
    # the calibration audit counts texts; the range audit runs on token ids (TFLite int8: int32 ids in) and says
    # why it has nothing to check in a dynamic ONNX model
    assert rows["tflite:int8"]["calibration"]["unit"] == "texts"
    assert rows["tflite:int8"]["calibration"]["ranges"]["tensors_checked"] > 0, rows["tflite:int8"]["calibration"]
    assert "dynamic" in rows["onnx:int8"]["calibration"]["ranges"]["skipped"]
    _check(text_run, rows, ("model_fp32.tflite", "model_int8.onnx"))


@pytest.mark.slow  # two more conversions of the text model: the fast test above covers each kind
def test_the_other_text_artifacts_match_keras_too(text_every: Path) -> None:
    rows = _rows(text_every)
    assert set(rows) == set(EVERY) and rows["tflite:dynamic"]["status"] == "ok"
    _check(text_every, rows, ("model_dynamic.tflite", "model_fp32.onnx", "model_fp32.xml"))
    from edgetl.api import export
    from edgetl.config import ExportConfig
    from edgetl.errors import ConfigError

    with pytest.raises(ConfigError, match="openvino:int8: a text model's int8 ONNX model is dynamic"):
        export(text_every, ExportConfig(targets=("openvino:int8",), calibration_images=20))


def _rows(run: Path) -> dict:
    return {r["target"]: r for r in json.loads((run / "export_report.json").read_text())["artifacts"]}


def _check(run: Path, rows: dict, files: tuple[str, ...]) -> None:
    from edgetl.runtime import Classifier, TextClassifier

    for t in ("tflite:fp32", "onnx:fp32", "openvino:fp32"):
        if t in rows:
            assert rows[t]["status"] == "ok" and rows[t]["top1_agreement"] == 1.0 and rows[t]["max_abs_diff"] < 1e-4
    for t, r in rows.items():  # the clients (issue 31): OpenVINO on the ONNX files, MediaPipe's TextClassifier on
        got = {c["client"]: c for c in r["clients"]}  # the TFLite files (their BERT form: ids, mask, segment_ids)
        if t.startswith("onnx"):
            assert got["onnx.checker (full_check)"]["status"] == "ok" and got["openvino CPU"]["agreement"] >= 0.99
        elif t.startswith("openvino"):  # OpenVINO loading the IR's two files from disk by itself, as an app does
            assert got["openvino CPU"]["status"] == "ok" and got["openvino CPU"]["agreement"] >= 0.99, (t, got)
            assert r["backend"].startswith("openvino "), r
        else:
            mp = got["mediapipe TextClassifier"]
            assert mp["status"] == "ok" and mp["agreement"] >= 0.99 and mp["items"] == r["images"], (t, mp)
    for name in files:
        clf = Classifier.load(run / "artifacts" / name)
        assert isinstance(clf, TextClassifier) and clf.contract.tokenizer["type"] == "wordpiece"
        assert clf.selftest()["ok"]
        assert clf.classify("win free prize call now !", top_k=1)[0].label == "spam"


def test_predict_text_in_the_cli_and_a_texts_file(text_run: Path, tmp_path: Path) -> None:
    model = text_run / "artifacts" / "model_fp32.tflite"
    (tmp_path / "t.txt").write_text("where city river how many ?\n\nok see you later .\n", encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "predict", str(model), "--text", "call now win free prize",
                        "--texts-file", str(tmp_path / "t.txt"), "--json", "--selftest"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["text"] for r in rows] == ["call now win free prize", "where city river how many ?", "ok see you later ."]
    assert [r["label"] for r in rows] == ["spam", "question", "chat"]
    p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "predict", str(model), "photo.jpg"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "text model" in p.stderr


def test_the_text_device_app_reads_lines_from_stdin(text_run: Path) -> None:
    app = Path(__file__).resolve().parents[2] / "examples" / "device_app" / "text_app.py"
    p = subprocess.run([sys.executable, str(app), str(text_run / "artifacts" / "model_fp32.tflite"), "--selftest"],
                       input="win free prize call now !\n\nok see you later .\n", capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["spam", "chat"] and all(r["ms"] > 0 for r in rows)


@pytest.mark.slow  # over 10 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_fine_tune_runs_average_into_one_model_and_report_each_run(tmp_path: Path) -> None:
    """fine_tune_runs=2: two runs from one start (seeds 0 and 1), each with its own history rows and its accuracy
    reported next to the averaged model's."""
    import keras

    from edgetl import TrainConfig
    from edgetl.api import train

    bert, data = make_tiny_bert(tmp_path / "tiny-bert"), make_text_csv(tmp_path / "texts.csv")
    res = train(TrainConfig(data=str(data), backbone="minilm_l6", weights=str(bert), epochs=5, fine_tune_epochs=2,
                            fine_tune_lr=1e-4, head_units=16, test_split=0.2, seed=0, fine_tune_runs=2),
                tmp_path / "run", progress=False)
    m = json.loads((res.out_dir / "metrics.json").read_text())
    runs = m["fine_tune"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and all(0 <= r["validation_top1"] <= 1 for r in runs)
    assert all("test_top1" in r for r in runs) and "averaged" in m["fine_tune"]["soup"]
    phases = {h["phase"] for h in json.loads((res.out_dir / "history.json").read_text())}
    assert {"head", "fine_tune_run1", "fine_tune_run2"} <= phases
    model = keras.models.load_model(res.out_dir / "model.keras", compile=False)
    assert model.count_params() > 0


def test_a_text_contract_without_tokenizer_is_refused(text_run: Path) -> None:
    from edgetl.errors import ModelFileError
    from edgetl.runtime.contract import Contract

    doc = json.loads((text_run / "artifacts" / "model_fp32.tflite.json").read_text())
    del doc["input"]["tokenizer"]
    with pytest.raises(ModelFileError, match="tokenizer"):
        Contract.from_dict(doc)
    assert np.array(doc["input"]["shape"]).size == 2
