"""Shared fixtures: generated solid-colour datasets, the ../shared data (when present), tiny trained runs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    p = Path(os.environ.get("EDGETL_SHARED", REPO.parent / "shared"))
    return p if (p / "datasets").is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    p = shared_dir()
    if p is None:
        pytest.skip("../shared (real weights and photos) is not present; set EDGETL_SHARED")
    return p


def make_color_dataset(root: Path, per_class: int = 6, size: int = 40) -> Path:
    """Three classes of noisy solid colours (cyan, magenta, yellow), like Model Maker's test data."""
    from PIL import Image

    rng = np.random.default_rng(0)
    colors = {"cyan": (0, 255, 255), "magenta": (255, 0, 255), "yellow": (255, 255, 0)}
    for name, rgb in colors.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.clip(np.array(rgb, np.float32) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(d / f"{name}_{i}.png")
    return root


@pytest.fixture(scope="session")
def color_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_color_dataset(tmp_path_factory.mktemp("colors"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the user's ~/.cache/edgetl from tests."""
    monkeypatch.setenv("EDGETL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "edgetl-cache"))


TINY_TRAIN = dict(backbone="mobilenet_v2", alpha=0.35, image_size=32, weights="none", head_units=16, epochs=3,
                  fine_tune_epochs=2, batch_size=8, patience=0, val_split=0.34, seed=3)


@pytest.fixture(scope="session")
def tiny_run(color_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fine-tuned run (random weights, solid colours), trained once per test session."""
    pytest.importorskip("tensorflow")
    from edgetl import TrainConfig
    from edgetl.api import train

    out = tmp_path_factory.mktemp("tiny_run")
    os.environ.setdefault("EDGETL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "edgetl-cache"))
    train(TrainConfig(data=str(color_dataset), strategy="fine_tune", **TINY_TRAIN), out, progress=False)
    return out


@pytest.fixture(scope="session")
def real_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run: flowers_mini on ImageNet MobileNetV2 0.35/128 features (about 10 s on 2 cores)."""
    pytest.importorskip("tensorflow")
    from edgetl import TrainConfig
    from edgetl.api import train

    out = tmp_path_factory.mktemp("real_run")
    os.environ.setdefault("EDGETL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "edgetl-cache"))
    train(TrainConfig(data=str(shared / "datasets" / "flowers_mini"), backbone="mobilenet_v2", alpha=0.35,
                      image_size=128, weights="imagenet", weights_dir=str(shared / "weights"),
                      strategy="feature_extraction", epochs=20, seed=0), out, progress=False)
    return out
