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


TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "is", "what", "who", "where", "how", "many",
              "city", "river", "person", "number", "free", "win", "call", "now", "prize", "ok", "see", "you", "later",
              "##s", "##ing", "?", "!", ".", ","]


def make_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with random weights in the sentence-transformers folder layout."""
    import json as _json
    import struct

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    h, f, L, v = 32, 64, 64, len(TINY_VOCAB)
    (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    (folder / "config.json").write_text(_json.dumps({
        "model_type": "bert", "hidden_act": "gelu", "vocab_size": v, "hidden_size": h, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": f, "max_position_embeddings": L, "type_vocab_size": 2}))
    rng = np.random.default_rng(seed)
    shapes = {"embeddings.word_embeddings.weight": (v, h), "embeddings.position_embeddings.weight": (L, h),
              "embeddings.token_type_embeddings.weight": (2, h), "embeddings.LayerNorm.weight": (h,),
              "embeddings.LayerNorm.bias": (h,)}
    for i in range(2):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + n + ".weight"], shapes[p + n + ".bias"] = (h, h), (h,)
        shapes[p + "intermediate.dense.weight"], shapes[p + "intermediate.dense.bias"] = (f, h), (f,)
        shapes[p + "output.dense.weight"], shapes[p + "output.dense.bias"] = (h, f), (h,)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + n + ".weight"], shapes[p + n + ".bias"] = (h,), (h,)
    header, blobs, off = {}, [], 0
    for name, shape in shapes.items():
        std = 1.0 if "word_embeddings" in name else 0.02  # BERT's own init: the residual path keeps tokens apart
        a = (np.ones(shape) if name.endswith("LayerNorm.weight") else rng.normal(0, std, shape)).astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    head = _json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return folder


def make_text_csv(path: Path, per_class: int = 24, seed: int = 0) -> Path:
    """Three classes of short texts the tiny vocabulary covers, each class with its own words."""
    import csv as _csv
    import random

    rng = random.Random(seed)
    words = {"question": ["what", "who", "where", "how", "many", "city", "river", "?"],
             "spam": ["free", "win", "call", "now", "prize", "!"], "chat": ["ok", "see", "you", "later", "."]}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = _csv.writer(fh)
        w.writerow(["text", "label"])
        for label, ws in words.items():
            for _ in range(per_class):
                w.writerow([" ".join(rng.choice(ws) for _ in range(rng.randint(3, 9))), label])
    return path
