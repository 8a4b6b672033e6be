"""The emulated arm64 Debian (benchmarks/arm64_box.py): edgetl's runtime really runs on aarch64 over SSH, and gives
the labels this x86 machine gives. Runs where the box is built (it is cached between runs on one machine)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.litert]
REPO = Path(__file__).resolve().parents[2]
BOX = Path(os.environ.get("EDGETL_ARM64_BOX") or "/var/cache/edgetl-arm64")
FOREIGN = "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"


@pytest.fixture(scope="module")
def box() -> Path:
    if not (BOX / "rootfs" / "etc" / "edgetl" / "rootfs.json").is_file() or os.geteuid() != 0:
        pytest.skip("the arm64 box is not built here (sudo .venv/bin/python benchmarks/arm64_box.py up builds it)")
    p = subprocess.run([sys.executable, str(REPO / "benchmarks" / "arm64_box.py"), "up", "--dir", str(BOX)],
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr[-2000:]
    state = json.loads(p.stdout.strip().splitlines()[-1])
    assert state["box"].startswith("aarch64 ")  # platform.machine() inside, over SSH
    return BOX


def _bench(model: Path, data: Path, device: str, out: Path) -> dict:
    p = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "bench", str(model), "--device", device, "--data",
                        str(data), "--max-images", "6", "--threads", "1", "--repetitions", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=1800)
    assert (out / "bench.json").is_file(), p.stderr[-2000:]
    return json.loads((out / "bench.json").read_text())


def test_an_int8_model_runs_on_arm64_like_on_x86(box: Path, shared: Path, tmp_path: Path) -> None:
    model = tmp_path / "coral.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    data = shared / "datasets" / "flowers_mini"
    arm = _bench(model, data, str(box / "profiles" / "arm64-emulated.yaml"), tmp_path / "arm")
    x86 = _bench(model, data, "host-cpu", tmp_path / "x86")
    (ra,), (rx,) = arm["rows"], x86["rows"]
    assert ra["status"] == "ok" and ra["emulated"] and ra["reliable"] is False and ra["p50_ms"] is None, ra
    assert arm["fingerprints"]["arm64-emulated"]["machine"] == "aarch64"
    sa, sx = np.asarray(arm["scores"]["0"]), np.asarray(x86["scores"]["0"])
    assert sa.shape == sx.shape == (6, 1001)
    assert (sa.argmax(1) == sx.argmax(1)).all()  # int8 under QEMU_CPU=cortex-a72: the same answers
    assert np.abs(sa - sx).max() <= 1 / 256 + 1e-6  # at most one uint8 quantization step of the output
