"""Faults: SIGKILL at random points, then resume; a full disk and a read-only output folder.

Short in CI (EDGETL_KILLS, default 3); the full run used EDGETL_KILLS=30 (benchmarks/RESULTS.md).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgetl.artifacts import sha256_file

pytestmark = [pytest.mark.tf, pytest.mark.slow]  # minutes: run by .ci/run with -m slow
pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
KILLS = int(os.environ.get("EDGETL_KILLS", "3"))


def _config(tmp: Path, data: Path) -> Path:
    cfg = tmp / "tiny.yaml"
    cfg.write_text(json.dumps({
        "train": {"data": str(data), "backbone": "mobilenet_v2", "alpha": 0.35, "image_size": 32, "weights": "none",
                  "strategy": "fine_tune", "epochs": 3, "fine_tune_epochs": 2, "head_units": 16, "batch_size": 8,
                  "patience": 0, "val_split": 0.34, "seed": 3},
        "export": {"targets": ["tflite:fp32", "tflite:int8", "onnx:fp32"], "calibration_images": 8,
                   "accuracy_budget": 100}}))
    return cfg


def _cmd(cfg: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "edgetl.cli.main", "-q", "pipeline", str(cfg), "--set", f"run_dir={run_dir}"]


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "EDGETL_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"}


def check_consistent(run_dir: Path) -> int:
    """Every stage folder that looks finished is complete and valid; returns how many there are."""
    done = 0
    for d in run_dir.iterdir():
        if not d.is_dir() or ".tmp-" in d.name or d.name in ("bench", "artifacts") or d.name.startswith("."):
            continue  # lock files, the stable artifact names (links into stage folders), the bench link
        meta = json.loads((d / "stage.json").read_text())  # a finished folder always has it
        for out in meta["outputs"].values():
            assert sha256_file(d / out["path"]) == out["sha256"], d
        done += 1
    if (run_dir / "run.json").exists():
        json.loads((run_dir / "run.json").read_text())
    for f in run_dir.rglob("*"):
        if f.is_file() and ".tmp-" not in str(f) and not f.name.startswith("."):
            assert not f.name.endswith(".part"), f
    return done


def _result(run_dir: Path) -> dict:
    rep = json.loads((run_dir / "export_report.json").read_text())
    ref = np.load(next(run_dir.glob("reference-*/reference.npz")))
    return {"rows": {r["target"]: (r["status"], round(r["accuracy"], 6), round(r["top1_agreement"], 6))
                     for r in rep["artifacts"]}, "ref": ref["probs"]}


def test_sigkill_at_random_points_then_resume(color_dataset: Path, tmp_path: Path) -> None:
    """Each trial: a fresh run killed at a random moment, checked, then resumed to the end and compared."""
    cfg = _config(tmp_path, color_dataset)
    cache = tmp_path / "cache"  # shared by all runs: the caches get killed mid-write too
    t0 = time.perf_counter()
    clean = subprocess.run(_cmd(cfg, tmp_path / "clean"), env=_env(cache), capture_output=True, text=True,
                           timeout=900)
    assert clean.returncode == 0, clean.stderr[-2000:]
    full_s = time.perf_counter() - t0
    expected = _result(tmp_path / "clean")
    rng = random.Random(1234)
    trials = []
    for k in range(KILLS):
        run_dir = tmp_path / f"killed{k}"
        p = subprocess.Popen(_cmd(cfg, run_dir), env=_env(cache), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        delay = rng.uniform(1.0, full_s)
        try:
            p.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed = True
        finished = check_consistent(run_dir) if run_dir.exists() else 0
        final = subprocess.run(_cmd(cfg, run_dir), env=_env(cache), capture_output=True, text=True, timeout=900)
        assert final.returncode == 0, final.stderr[-2000:]
        assert check_consistent(run_dir) == 5  # train, reference and three exports
        got = _result(run_dir)
        assert got["rows"] == expected["rows"]
        assert np.allclose(got["ref"], expected["ref"], atol=1e-6)  # deterministic training: same model values
        trials.append((round(delay, 1), killed, finished))
    print(f"kill trials (delay s, killed, stages finished at the kill): {trials}")
    assert any(t[1] and t[2] < 5 for t in trials) or KILLS < 3  # some kills really landed mid-run


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    target = tmp_path / "small_disk"
    target.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(target)):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    yield target
    subprocess.run(["umount", str(target)], capture_output=True)


def test_full_disk_gives_a_clear_error_and_corrupts_nothing(color_dataset: Path, tmp_path: Path, tmpfs: Path) -> None:
    """A real 1 MiB tmpfs fills up during training or export; after it grows, the same command resumes."""
    cfg = _config(tmp_path, color_dataset)
    run_dir = tmpfs / "run"
    p = subprocess.run(_cmd(cfg, run_dir), env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=900)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "disk is full" in p.stderr and "rerun the same command" in p.stderr and "Traceback" not in p.stderr
    if run_dir.exists():
        check_consistent(run_dir)
    assert _mount("-o", "remount,size=64m", str(tmpfs))
    ok = subprocess.run(_cmd(cfg, run_dir), env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=900)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert check_consistent(run_dir) == 5


def test_read_only_output_folder(color_dataset: Path, tmp_path: Path) -> None:
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    if os.geteuid() != 0 or not _mount("--bind", str(src), str(ro)):
        pytest.skip("cannot bind-mount here (needs root and mount rights)")
    try:
        assert _mount("-o", "remount,bind,ro", str(ro))
        cfg = _config(tmp_path, color_dataset)
        p = subprocess.run(_cmd(cfg, ro / "run"), env=_env(tmp_path / "cache"), capture_output=True, text=True,
                           timeout=900)
        assert p.returncode == 1 and "read-only file system" in p.stderr and "Traceback" not in p.stderr, \
            p.stderr[-2000:]
        assert list(src.iterdir()) == []
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
