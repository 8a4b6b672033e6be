"""Text encoders edgetl can fine-tune, and where their weights come from (a folder, or the Hugging Face hub)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, WeightsError, WeightsOfflineError

WEIGHTS_DIR_ENV = "EDGETL_WEIGHTS_DIR"
REQUIRED = ("config.json", "vocab.txt", "model.safetensors")


@dataclass(frozen=True)
class TextBackboneSpec:
    """A pretrained BERT-style encoder.

    Attributes:
        name: Registry id (``minilm_l6``).
        folder: Folder name of its files (as sentence-transformers and the hub name it).
        hub_repo: Hugging Face repository the files are downloaded from on a machine with internet.
        sha256: Published sha256 of ``model.safetensors`` (checked on every load), or None.
        max_length: Longest sequence edgetl picks for it (the data may ask for less).
        description: One line for ``edgetl backbones``.
    """

    name: str
    folder: str
    hub_repo: str
    sha256: str | None
    max_length: int = 128
    description: str = ""


TEXT_BACKBONES: dict[str, TextBackboneSpec] = {s.name: s for s in (
    TextBackboneSpec("minilm_l6", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                     "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 128,
                     "MiniLM-L6 (BERT, 6 layers, hidden 384, 22.7 M parameters), sentence-transformers, Apache-2.0"),
)}


def is_text_backbone(name: str) -> bool:
    return name in TEXT_BACKBONES


def get_text_spec(name: str) -> TextBackboneSpec:
    try:
        return TEXT_BACKBONES[name]
    except KeyError:
        raise ConfigError(f"Unknown text backbone {name!r}. Known: {', '.join(sorted(TEXT_BACKBONES))}.") from None


def resolve_text_weights(spec: TextBackboneSpec, weights: str, weights_dir: str | None, cache_dir: Path
                         ) -> tuple[Path, bool]:
    """The folder holding the encoder's files: given, found in a weights folder, or downloaded once into the cache;
    and whether it must be the published file (then its hash is checked). An explicit ``--weights FOLDER`` is the
    user's own checkpoint (for example one fine-tuned before) and is taken as it is."""
    w = weights.strip()
    if w.lower() in ("none", "random"):
        raise ConfigError(f"{spec.name} needs its folder even without pretrained weights (its vocabulary); pass "
                          "--weights-dir or --weights FOLDER.")
    if w.lower() not in ("imagenet", "pretrained", ""):
        p = Path(w).expanduser()
        return _check(p if not (p / spec.folder).is_dir() else p / spec.folder), False
    for d in (weights_dir, os.environ.get(WEIGHTS_DIR_ENV)):
        if d:
            for cand in (Path(d).expanduser() / spec.folder, Path(d).expanduser()):
                if all((cand / f).is_file() for f in REQUIRED) and cand.name == spec.folder:
                    return _check(cand), True
    from ..runs import mark_cache

    cached = mark_cache(cache_dir) / "hub" / spec.folder
    if all((cached / f).is_file() for f in REQUIRED):
        return cached, True
    return download(spec, cached), True


def _check(folder: Path) -> Path:
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise WeightsError(f"{folder} lacks {', '.join(missing)}. A text encoder folder holds config.json, vocab.txt "
                           "and model.safetensors (a sentence-transformers or Hugging Face BERT folder).")
    return folder


def download(spec: TextBackboneSpec, dest: Path) -> Path:
    """Fetch the files from the hub into ``dest`` (each written whole, the weights checked against the hash)."""
    import urllib.request

    from ..artifacts import atomic_write_bytes

    for name in REQUIRED:
        url = f"https://huggingface.co/{spec.hub_repo}/resolve/main/{name}"
        try:
            with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - a fixed https URL
                data = r.read(1 << 30)
        except OSError as exc:
            raise WeightsOfflineError(
                f"Could not download {spec.name} ({url}): {exc}. This machine seems to be offline. Put the "
                f"{spec.folder} folder (config.json, vocab.txt, model.safetensors) in a folder and pass --weights-dir "
                f"FOLDER (or set {WEIGHTS_DIR_ENV}).") from None
        if name == "model.safetensors" and spec.sha256 and hashlib.sha256(data).hexdigest() != spec.sha256:
            raise WeightsError(f"{url}: the download does not match the published sha256; try again.")
        atomic_write_bytes(dest / name, data)
    return dest
