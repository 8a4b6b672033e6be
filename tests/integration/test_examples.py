"""The examples run as a user would run them."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.litert
pytest.importorskip("ai_edge_litert")
APP = Path(__file__).resolve().parents[2] / "examples" / "device_app" / "app.py"


def test_device_app_classifies_a_folder_once(shared: Path, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for p in sorted((shared / "datasets/flowers_mini/daisy").iterdir())[:3]:
        shutil.copy(p, incoming)
    (incoming / "broken.jpg").write_bytes(b"nope")
    out = subprocess.run([sys.executable, str(APP), str(shared / "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"),
                          "--watch", str(incoming), "--once", "--mean", "127.5", "--std", "127.5"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 4
    assert sum(r.get("label") == "daisy" for r in rows) >= 2  # the name from the file's own labels file
    assert any("error" in r and "broken.jpg" in r["image"] for r in rows)
