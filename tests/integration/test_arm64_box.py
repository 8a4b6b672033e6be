"""The emulated arm64 Debian (benchmarks/arm64_box.py): edgetl's runtime really runs on aarch64 over SSH, and gives
the labels this x86 machine gives. Runs where the box is built (.ci/run builds it; it is cached between runs on one
machine)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_text_csv, make_tiny_bert

pytestmark = [pytest.mark.slow, pytest.mark.litert]
REPO = Path(__file__).resolve().parents[2]
BOX = Path(os.environ.get("EDGETL_ARM64_BOX") or "/var/cache/edgetl-arm64")


STATE: dict = {}  # the running box's access (port, keys), as `arm64_box.py up` printed it


@pytest.fixture(scope="module")
def box() -> Path:
    if not (BOX / "rootfs" / "etc" / "edgetl" / "rootfs.json").is_file() or os.geteuid() != 0:
        pytest.skip("the arm64 box is not built here (sudo .venv/bin/python benchmarks/arm64_box.py up builds it)")
    p = subprocess.run([sys.executable, str(REPO / "benchmarks" / "arm64_box.py"), "up", "--dir", str(BOX)],
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr[-2000:] + p.stdout[-2000:]
    state = json.loads(p.stdout.strip().splitlines()[-1])
    assert state["box"].startswith("aarch64 ")  # platform.machine() inside, over SSH
    STATE.update(state)
    return BOX


def _export(run: Path, targets: tuple[str, ...]) -> Path:
    from edgetl.api import export
    from edgetl.config import ExportConfig

    export(run, ExportConfig(targets=targets, calibration_images=20))
    return run


def _bench(run: Path, devices: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "edgetl.cli.main", "bench", str(run), *[x for d in devices for x in ("--device", d)],
           "--max-images", "6", "--threads", "1", "--repetitions", "1", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert (out / "bench.json").is_file(), p.stderr[-3000:]
    return json.loads((out / "bench.json").read_text())


def _compare(run: Path, box: Path, tmp_path: Path, steps: dict[str, float]) -> None:
    """Every artifact on both arm64 profiles against this machine: real rows, no speed, the same labels."""
    arm = _bench(run, [str(box / "profiles" / "arm64-emulated.yaml"),
                       str(box / "profiles" / "arm64-emulated-onnx.yaml")], tmp_path / "arm")
    x86 = _bench(run, ["host-cpu", "host-onnx"], tmp_path / "x86")
    pair = {"arm64-emulated": "host-cpu", "arm64-emulated-onnx": "host-onnx"}
    here = {(r["device"], r["target"]): (i, r) for i, r in enumerate(x86["rows"])}
    seen = set()
    for i, ra in enumerate(arm["rows"]):
        if ra["status"] == "skipped":  # a TFLite file on the ONNX Runtime profile and the other way round
            continue
        assert ra["status"] == "ok" and ra["emulated"] and ra["reliable"] is False, ra
        assert ra["p50_ms"] is None and ra["emulated_ms"]["p50_ms"] > 0 and ra["accuracy"] is not None, ra
        j, rx = here[(pair[ra["device"]], ra["target"])]
        sa, sx = np.asarray(arm["scores"][str(i)]), np.asarray(x86["scores"][str(j)])
        assert sa.shape == sx.shape and len(sa) == 6
        assert (sa.argmax(1) == sx.argmax(1)).all(), ra["target"]  # QEMU_CPU names a real core: the same answers
        assert np.abs(sa - sx).max() <= steps.get(ra["target"], 1e-4), ra["target"]
        seen.add(ra["target"])
    assert seen == {e for e in json.loads((run / "run.json").read_text())["exports"]}
    for dev in pair:
        assert arm["fingerprints"][dev]["machine"] == "aarch64"
    assert all(b.get("artifact") is None and b.get("emulated") for b in arm["best"]), arm["best"]


def test_image_artifacts_run_on_arm64_like_on_x86(box: Path, real_run: Path, tmp_path: Path) -> None:
    run = _export(real_run, ("tflite:fp32", "tflite:int8", "onnx:int8"))
    # TFLite int8: at most one output quantization step. ONNX Runtime's int8 kernels are not the same code on x86
    # (u8s8, whose AVX2 path can saturate) and on Arm: measured up to 17 steps apart, the labels the same
    _compare(run, box, tmp_path, {"tflite:int8": 1 / 256 + 1e-6, "onnx:int8": 0.1})
    # the device's own check: the golden JPEGs decoded on aarch64 (libjpeg-turbo's NEON paths) and rerun there
    sys.path.insert(0, str(REPO / "benchmarks"))
    import arm64_check

    done = arm64_check.selftests(STATE, [str(run)])
    assert len(done) == 3 and all(v["ok"] for v in done.values()), done


def test_text_artifacts_and_their_tokenizer_run_on_arm64(box: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from edgetl import TrainConfig
    from edgetl.api import train

    bert, data = make_tiny_bert(tmp_path / "tiny-bert"), make_text_csv(tmp_path / "texts.csv")
    train(TrainConfig(data=str(data), backbone="minilm_l6", weights=str(bert), epochs=10, fine_tune_epochs=1,
                      head_units=16, seed=0), tmp_path / "run", progress=False)
    run = _export(tmp_path / "run", ("tflite:dynamic", "onnx:int8"))
    _compare(run, box, tmp_path, {"tflite:dynamic": 1e-3, "onnx:int8": 0.1})
