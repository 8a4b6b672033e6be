"""Run folders: stable artifact names, listing, cleaning stale stages; the pipeline config checks up front."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgetl.errors import ConfigError


T, R, NEW, OLD = "train-aaaaaaaaaaaa", "reference-bbbbbbbbbbbb", "export_tflite_int8-111111111111", \
    "export_tflite_int8-000000000000"
TMP = "export_x-cccccccccccc.tmp-999999"


def _fake_run(rd: Path) -> None:
    """A run folder as edgetl leaves it, with one current and one stale export of tflite:int8."""
    for d, files in {T: ["model.keras"], R: ["reference.npz"],
                     NEW: ["model_int8.tflite", "model_int8.tflite.json", "report.json"],
                     OLD: ["model_int8.tflite"], TMP: ["half"]}.items():
        (rd / d).mkdir(parents=True)
        for f in files:
            (rd / d / f).write_text("{}" if f.endswith("json") else d)
        stage, key = d.split(".tmp-")[0].rsplit("-", 1)
        (rd / d / "stage.json").write_text(json.dumps({"stage": stage, "key": key,
                                                       "inputs": {"reference": {"path": str(rd / R / "r")}}}))
    (rd / TMP / ".edgetl-tmp").write_text("999999\n")  # a killed process's temporary folder
    (rd / "run.json").write_text(json.dumps({
        "stages": {"train": {"dir": T}},
        "exports": {"tflite:int8": {"path": f"{NEW}/model_int8.tflite", "status": "ok", "train_stage": T}}}))


def test_published_artifacts_are_stable_names_of_the_current_export(tmp_path: Path) -> None:
    from edgetl.api import publish_artifacts
    from edgetl.runs import list_artifacts

    _fake_run(tmp_path)
    out = publish_artifacts(tmp_path)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["model_int8.tflite",
                                                                                 "model_int8.tflite.json"]
    assert (out / "model_int8.tflite").read_text() == NEW
    rows = list_artifacts(tmp_path)
    assert [r["target"] for r in rows] == ["tflite:int8"] and rows[0]["path"] == str(out / "model_int8.tflite")
    # a newer export replaces the file in place; a target no longer exported disappears
    state = json.loads((tmp_path / "run.json").read_text())
    state["exports"] = {"tflite:int8": {"path": f"{OLD}/model_int8.tflite", "status": "ok"}}
    (tmp_path / "run.json").write_text(json.dumps(state))
    publish_artifacts(tmp_path)
    assert (out / "model_int8.tflite").read_text() == OLD
    assert not (out / "model_int8.tflite.json").exists()  # the old one had no sidecar: no stale contract left


def test_an_artifact_is_published_with_its_companion_files_the_weights_first(tmp_path: Path) -> None:
    from edgetl.api import publish_artifacts
    from edgetl.runs import list_artifacts

    ir = "export_openvino_int8-222222222222"
    (tmp_path / ir).mkdir()
    for f, body in (("model_int8.xml", "<net/>"), ("model_int8.bin", "weights!"), ("model_int8.xml.json", "{}")):
        (tmp_path / ir / f).write_text(body)
    (tmp_path / ir / "stage.json").write_text(json.dumps({"stage": "export_openvino_int8", "key": "222222222222"}))
    (tmp_path / "run.json").write_text(json.dumps({"stages": {}, "exports": {
        "openvino:int8": {"path": f"{ir}/model_int8.xml", "status": "ok"}}}))
    out = publish_artifacts(tmp_path)
    assert (out / "model_int8.bin").read_text() == "weights!" and (out / "model_int8.xml").is_file()
    assert "model_int8.bin" in json.loads((out / ".edgetl-artifacts.json").read_text())["files"]
    assert list_artifacts(tmp_path)[0]["size_bytes"] == len("<net/>") + len("weights!")
    (tmp_path / "run.json").write_text(json.dumps({"stages": {}, "exports": {}}))
    publish_artifacts(tmp_path)  # no longer exported: both files go, as edgetl's own
    assert not (out / "model_int8.bin").exists() and not (out / "model_int8.xml").exists()


def test_clean_removes_only_stale_stages(tmp_path: Path) -> None:
    from edgetl.runs import clean

    _fake_run(tmp_path)
    dry = clean(tmp_path, cache_dir=None, dry_run=True)
    assert sorted(Path(d["path"]).name for d in dry) == [OLD, TMP]
    assert (tmp_path / OLD).exists()
    clean(tmp_path, cache_dir=None, dry_run=False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [NEW, R, "run.json", T]


def test_pipeline_config_mistakes_fail_before_any_work(tmp_path: Path) -> None:
    """Every section is checked up front: a bad device name fails in well under 2 s, with 'did you mean'."""
    from edgetl.api import preflight
    from edgetl.config import PipelineConfig

    data = tmp_path / "data"
    for c in ("a", "b"):
        (data / c).mkdir(parents=True)
        from PIL import Image

        Image.new("RGB", (8, 8)).save(data / c / "x.png")
    raw = {"train": {"data": str(data), "weights": "none"}, "export": {"targets": ["tflite:fp32"]},
           "bench": {"devices": ["host-cpu", "rpi44"]}}
    t0 = time.perf_counter()
    cfg = PipelineConfig.from_dict(raw)
    with pytest.raises(ConfigError, match="Did you mean 'rpi4'"):
        preflight(cfg)
    assert time.perf_counter() - t0 < 2.0
    for bad, match in (({"train": None}, "train' section is missing"),
                       ({"train": {"data": str(data)}, "export": {"targets": ["tflite:int9"]}}, "tflite:int8"),
                       ({"train": {"data": str(data)}, "bench": {"devcies": ["x"]}}, "Did you mean 'devices'"),
                       ({"train": {"data": str(data)}, "benhc": {}}, "Did you mean 'bench'"),
                       ({"train": {}}, "train.data is required")):
        with pytest.raises(ConfigError, match=match):
            PipelineConfig.from_dict(bad)
