"""The Python API as quiet as the CLI: no converter or TensorFlow lines unless asked, and the progress counters
of long steps reach the terminal even while the converter's own stderr is hidden."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tf, pytest.mark.litert, pytest.mark.slow]
pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

SCRIPT = """
import sys
from edgetl.api import export
from edgetl.config import ExportConfig
export(sys.argv[1], ExportConfig(targets=("tflite:int8",), calibration_images=8, golden_images=2,
                                 accuracy_budget=100.0, sensitivity_images=0))
"""
NATIVE = ("fully_quantize", "Created TensorFlow Lite XNNPACK delegate", "tensorflow/compiler", "WARNING: All log messages")


def _export(run: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "EDGETL_QUIET_NATIVE")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(run)], capture_output=True, text=True, timeout=600,
                          env={**base, "EDGETL_PROGRESS": "1", "EDGETL_PROGRESS_AFTER_S": "0", **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def test_api_export_hides_native_logs_unless_asked_and_shows_progress(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    quiet = _export(run)
    assert not [n for n in NATIVE if n in quiet], quiet[-3000:]
    assert "tflite:int8 calibration 8/8" in quiet and "tflite:int8 verify (validation)" in quiet, quiet[-3000:]
    shutil.rmtree(run)
    shutil.copytree(tiny_run, run)
    loud = _export(run, EDGETL_QUIET_NATIVE="0")  # what the user asked for: the converter's own lines
    assert [n for n in NATIVE if n in loud], loud[-3000:]
