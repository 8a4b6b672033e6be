"""Feature extraction on a real local Ray cluster: a head and a worker node, each its own raylet process.

Ray's own ``ray.cluster_utils.Cluster`` starts them (GCS, raylets, workers: the same processes that
``ray start`` starts); the training runs as a separate ``edgetl train --ray ADDRESS`` process, as a user
would run it, and connects over the network address the cluster prints.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("tensorflow")
from ray.cluster_utils import Cluster  # noqa: E402

TRAIN = ["--backbone", "mobilenet_v2", "--alpha", "0.35", "--image-size", "128", "--weights", "imagenet",
         "--strategy", "fine_tune", "--augment", "flip", "--epochs", "4", "--fine-tune-epochs", "2", "--seed", "0",
         "--json"]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = c.add_node(num_cpus=1)
    yield c, worker
    c.shutdown()


def edgetl_train(shared: Path, out: Path, cache: Path, *extra: str, wait: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgetl.cli.main", "train", "--data", str(shared / "datasets" / "flowers_mini"),
           "--weights-dir", str(shared / "weights"), *TRAIN, "--out", str(out), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "EDGETL_CACHE_DIR": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2"})
    if wait:
        proc.wait(timeout=600)
    return proc


def result(proc: subprocess.Popen) -> tuple[dict, dict]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out)
    return summary, json.loads((Path(summary["stage_dir"]) / "metrics.json").read_text())


def features(cache: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in sorted((cache / "features").glob("*.npy"))}


@pytest.fixture(scope="module")
def local_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, np.ndarray]]:
    tmp = tmp_path_factory.mktemp("ray-local")
    _, metrics = result(edgetl_train(shared, tmp / "run", tmp / "cache"))
    return metrics, features(tmp / "cache")


@pytest.mark.slow
def test_ray_gives_the_same_features_and_accuracy_as_the_local_path(shared: Path, cluster, local_run, tmp_path: Path
                                                                     ) -> None:
    c, _ = cluster
    summary, metrics = result(edgetl_train(shared, tmp_path / "run", tmp_path / "cache", "--ray", c.address,
                                           "--set", "ray_shard_images=64"))
    local_metrics, local_feats = local_run
    feats = features(tmp_path / "cache")
    assert sorted(feats) == sorted(local_feats) and len(feats) >= 4  # final and cut outputs, orig and flip views
    for name, arr in feats.items():
        assert arr.shape == local_feats[name].shape
        np.testing.assert_allclose(arr, local_feats[name], atol=1e-5, rtol=0)
    assert metrics["validation"]["top1"] == local_metrics["validation"]["top1"]
    stats = metrics["ray"]
    assert stats["workers"] == 2 and stats["shards"] == 4 and stats["redone_shards"] == 0
    assert sum(r["images"] for r in stats["shard_records"]) == 200
    assert not list((tmp_path / "cache" / "features" / "parts").glob("*/*.npz"))  # parts folded into the cache

    # a second run (another run folder, same cache) finds the features: no worker starts
    summary2, metrics2 = result(edgetl_train(shared, tmp_path / "run2", tmp_path / "cache", "--ray", c.address))
    assert "ray" not in metrics2 and metrics2["validation"]["top1"] == metrics["validation"]["top1"]


@pytest.mark.slow
def test_a_worker_node_killed_mid_job_loses_only_its_shard(shared: Path, tmp_path: Path, local_run) -> None:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker = c.add_node(num_cpus=1)
        parts = tmp_path / "cache" / "features" / "parts"
        proc = edgetl_train(shared, tmp_path / "run", tmp_path / "cache", "--ray", c.address,
                            "--set", "ray_shard_images=8", wait=False)
        deadline = time.monotonic() + 300
        while not list(parts.glob("*/*.npz")):  # the first shard is done: both workers are busy
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        c.remove_node(worker)  # the worker node's raylet and its worker processes die
        _, metrics = result(proc)
    finally:
        c.shutdown()
    stats = metrics["ray"]
    assert stats["redone_shards"] >= 1, stats
    assert sorted(r["start"] for r in stats["shard_records"]) == list(range(0, 200, 8))
    local_metrics, local_feats = local_run
    for name, arr in features(tmp_path / "cache").items():
        np.testing.assert_allclose(arr, local_feats[name], atol=1e-5, rtol=0)
    assert metrics["validation"]["top1"] == local_metrics["validation"]["top1"]


@pytest.mark.slow
def test_an_interrupted_ray_run_resumes_from_its_finished_shards(shared: Path, cluster, tmp_path: Path) -> None:
    c, _ = cluster
    parts = tmp_path / "cache" / "features" / "parts"
    proc = edgetl_train(shared, tmp_path / "run", tmp_path / "cache", "--ray", c.address,
                        "--set", "ray_shard_images=8", wait=False)
    deadline = time.monotonic() + 300
    while len(list(parts.glob("*/*.npz"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    proc.kill()  # Ctrl-C or a lost laptop lid: the driver dies, the finished shards stay
    proc.communicate()
    finished = len(list(parts.glob("*/*.npz")))
    _, metrics = result(edgetl_train(shared, tmp_path / "run", tmp_path / "cache", "--ray", c.address,
                                     "--set", "ray_shard_images=8"))
    assert metrics["ray"]["resumed_shards"] >= finished >= 3
    assert len(metrics["ray"]["shard_records"]) == 25 - metrics["ray"]["resumed_shards"]


def test_wrong_address_and_missing_ray_say_what_to_do(color_dataset: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "edgetl.cli.main", "train", "--data", str(color_dataset), "--weights", "none",
           "--out", str(tmp_path / "run"), "--ray", "127.0.0.1:9"]
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and time.monotonic() - t < 60
    assert "No Ray cluster answers at '127.0.0.1:9'" in p.stderr and "ray start --head" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "run").exists()

    hide_ray = ("import sys, importlib.util as u; f = u.find_spec; "
                "u.find_spec = lambda n, *a, **k: None if n.split('.')[0] == 'ray' else f(n, *a, **k); "
                "sys.modules['ray'] = None; from edgetl.cli.main import main; main()")
    p = subprocess.run([sys.executable, "-c", hide_ray, *cmd[3:]], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "pip install 'edgetl[distributed]'" in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
