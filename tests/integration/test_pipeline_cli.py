"""The pipeline as a user runs it: every section checked first, stage lines, a summary, stable artifact paths,
the benchmark cached like the other stages, impossible pairs left out, and the fastest artifact per device."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tf, pytest.mark.litert, pytest.mark.slow]  # a minute: .ci/run runs it with -m slow
pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")


def _cfg(tmp: Path, data: Path, devices: list[str]) -> Path:
    prof = tmp / "quick-cpu.yaml"
    prof.write_text(json.dumps({"name": "quick-cpu", "description": "this CPU, short timing", "runtime": "litert",
                                "threads": [1], "warmup_runs": 2, "min_runs": 5, "max_runs": 30, "min_time_s": 0.2,
                                "max_time_s": 1, "repetitions": 2}))
    cfg = tmp / "p.yaml"
    cfg.write_text(json.dumps({
        "run_dir": str(tmp / "run"),
        "train": {"data": str(data), "backbone": "mobilenet_v2", "alpha": 0.35, "image_size": 32, "weights": "none",
                  "strategy": "feature_extraction", "epochs": 2, "head_units": 8, "batch_size": 8, "patience": 0,
                  "val_split": 0.34, "seed": 3},
        "export": {"targets": ["tflite:fp32", "tflite:int8"], "calibration_images": 4, "accuracy_budget": 100,
                   "sensitivity_images": 0},
        "bench": {"devices": [str(prof) if d == "quick" else d for d in devices]}}))
    return cfg


def _run(cfg: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "edgetl.cli.main", "pipeline", str(cfg), *extra],
                          capture_output=True, text=True, timeout=600, env=env)


def test_pipeline_end_to_end_summary_paths_and_cached_bench(color_dataset: Path, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, color_dataset, ["quick", "coral-usb", "host-onnx"])
    t0 = time.perf_counter()
    bad = _run(cfg, "--set", f"bench.devices={tmp_path / 'quick-cpu.yaml'},corall-usb")
    assert bad.returncode == 2 and "Did you mean 'coral-usb'" in bad.stderr and time.perf_counter() - t0 < 30
    assert not (tmp_path / "run").exists()  # nothing ran
    first = _run(cfg)
    assert first.returncode == 0, first.stderr[-3000:]
    err = first.stderr
    assert "[1/4] train" in err and "[4/4] bench" in err and "elapsed" in err
    assert "fastest within the accuracy budget" in err  # a noisy machine's rows are named unreliable, not hidden
    assert re.search(r"quick-cpu: (no reliable measurement here; fastest unreliable: )?tflite:", err), err[-2000:]
    assert "data=" in err and "every option: edgetl -v pipeline" in err  # the configuration on one line
    assert "Epoch " not in err and "/step" not in err and "head epoch 1/2" in err  # edgetl's epoch lines, not Keras's
    assert "hand-off" in err and f"{tmp_path / 'run' / 'artifacts' / 'model_int8.tflite'}" in err
    assert "edgetpu_compiler -s" in err  # coral-usb: the compile step before the copy
    run = tmp_path / "run"
    arts = sorted(p.name for p in (run / "artifacts").iterdir() if not p.name.startswith("."))
    assert arts == ["labels.txt", "model_fp32.tflite", "model_fp32.tflite.json", "model_int8.tflite",
                    "model_int8.tflite.json"]
    assert (run / "artifacts" / "labels.txt").read_text().split() == ["cyan", "magenta", "yellow"]
    doc = json.loads((run / "bench" / "bench.json").read_text())
    devices = {r["device"] for r in doc["rows"]}
    assert devices == {"quick-cpu", "coral-usb"}  # host-onnx runs no TFLite artifact: left out, not a row
    assert {o["device"] for o in doc["omitted"]} == {"host-onnx", "coral-usb"}  # coral-usb: the fp32 one
    assert [r["threads"] for r in doc["rows"] if r["device"] == "coral-usb"] == [1]
    assert all(r["repetitions"] == 2 for r in doc["rows"] if r["status"] == "ok")
    assert "Left out" in (run / "bench" / "bench.md").read_text()
    _report_renders(run / "report.html", tmp_path)
    second = _run(cfg)
    assert second.returncode == 0
    rep = json.loads((run / "pipeline_report.json").read_text())
    assert rep["train"]["cached"] and rep["bench"]["cached"]  # every stage reused, the benchmark included
    again = _run(cfg, "--remeasure")
    assert json.loads((run / "pipeline_report.json").read_text())["bench"]["cached"] is False, again.stderr[-2000:]


def _report_renders(page: Path, tmp: Path) -> None:
    """The run report in a real headless browser: every plot drawn, the artifacts and the hand-off on the page."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian chromium is not installed (.ci/run installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp / 'chrome'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    for plot in ("history", "confusion_validation", "per_class_f1"):
        section = dom.split(f'id="{plot}"', 1)[1].split("</section>", 1)[0]
        assert "<svg" in section and "<path" in section, plot
    table = dom.split('id="artifacts"', 1)[1].split("</table>", 1)[0]
    assert "tflite:fp32" in table and "tflite:int8" in table
    assert "model_int8.tflite" in dom.split('id="handoff"', 1)[1]
