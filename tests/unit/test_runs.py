"""Run folders: stable artifact names, listing, cleaning stale stages; the pipeline config checks up front."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgetl.errors import ConfigError


def _fake_run(rd: Path) -> None:
    """A run folder as edgetl leaves it, with one current and one stale export of tflite:int8."""
    for d, files in {"train-aaa": ["model.keras"], "reference-bbb": ["reference.npz"],
                     "export_tflite_int8-new": ["model_int8.tflite", "model_int8.tflite.json", "report.json"],
                     "export_tflite_int8-old": ["model_int8.tflite"], "export_x-ccc.tmp-123": ["half"]}.items():
        (rd / d).mkdir(parents=True)
        for f in files:
            (rd / d / f).write_text("{}" if f.endswith("json") else d)
        (rd / d / "stage.json").write_text(json.dumps({"inputs": {"reference": {"path": str(rd / "reference-bbb" / "r")}}}))
    (rd / "run.json").write_text(json.dumps({
        "stages": {"train": {"dir": "train-aaa"}},
        "exports": {"tflite:int8": {"path": "export_tflite_int8-new/model_int8.tflite", "status": "ok",
                                    "train_stage": "train-aaa"}}}))


def test_published_artifacts_are_stable_names_of_the_current_export(tmp_path: Path) -> None:
    from edgetl.api import publish_artifacts
    from edgetl.runs import list_artifacts

    _fake_run(tmp_path)
    out = publish_artifacts(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["model_int8.tflite", "model_int8.tflite.json"]
    assert (out / "model_int8.tflite").read_text() == "export_tflite_int8-new"
    rows = list_artifacts(tmp_path)
    assert [r["target"] for r in rows] == ["tflite:int8"] and rows[0]["path"] == str(out / "model_int8.tflite")
    # a newer export replaces the file in place; a target no longer exported disappears
    state = json.loads((tmp_path / "run.json").read_text())
    state["exports"] = {"tflite:int8": {"path": "export_tflite_int8-old/model_int8.tflite", "status": "ok"}}
    (tmp_path / "run.json").write_text(json.dumps(state))
    publish_artifacts(tmp_path)
    assert (out / "model_int8.tflite").read_text() == "export_tflite_int8-old"
    assert not (out / "model_int8.tflite.json").exists()  # the old one had no sidecar: no stale contract left


def test_clean_removes_only_stale_stages(tmp_path: Path) -> None:
    from edgetl.runs import clean

    _fake_run(tmp_path)
    dry = clean(tmp_path, cache_dir=None, dry_run=True)
    assert sorted(Path(d["path"]).name for d in dry) == ["export_tflite_int8-old", "export_x-ccc.tmp-123"]
    assert (tmp_path / "export_tflite_int8-old").exists()
    clean(tmp_path, cache_dir=None, dry_run=False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["export_tflite_int8-new", "reference-bbb", "run.json", "train-aaa"]


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
