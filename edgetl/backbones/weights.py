"""Where pretrained weights come from: a file, a folder with the documented naming scheme, or a download."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsError
from .specs import BackboneSpec

WEIGHTS_DIR_ENV = "EDGETL_WEIGHTS_DIR"


@dataclass(frozen=True)
class WeightsSource:
    """Resolved weights: ``kind`` is none, file or download; ``path`` is set for files."""

    kind: str
    path: Path | None = None

    def describe(self) -> str:
        return str(self.path) if self.path else self.kind


def resolve_weights(spec: BackboneSpec, alpha: float | None, size: int, weights: str,
                    weights_dir: str | None) -> WeightsSource:
    """Turn the ``weights`` option into a source, without loading anything.

    ``imagenet`` looks for ``spec.weights_filename(alpha, size)`` in ``weights_dir`` and then in
    ``$EDGETL_WEIGHTS_DIR``; when neither has it, Keras downloads the weights at build time.
    """
    w = weights.strip()
    if w.lower() in ("none", "random", ""):
        return WeightsSource("none")
    if w.lower() != "imagenet":
        p = Path(w).expanduser()
        if p.is_dir():
            return _from_dir(spec, alpha, size, [p], required=True)
        if not p.is_file():
            raise WeightsError(f"Weights file {w!r} does not exist. Pass --weights imagenet, none, or the path of "
                               f"a Keras .weights.h5 file for {spec.name}.")
        return WeightsSource("file", p)
    dirs = [Path(d).expanduser() for d in (weights_dir, os.environ.get(WEIGHTS_DIR_ENV)) if d]
    return _from_dir(spec, alpha, size, dirs, required=False)


def _from_dir(spec: BackboneSpec, alpha: float | None, size: int, dirs: list[Path], *, required: bool) -> WeightsSource:
    name = spec.weights_filename(alpha, size)
    for d in dirs:
        if (d / name).is_file():
            return WeightsSource("file", d / name)
    if required:
        raise WeightsError(f"No file named {name!r} in {', '.join(map(str, dirs))}. Weights folders follow the "
                           "scheme <backbone>[_<alpha>]_<size>_no_top.weights.h5.")
    return WeightsSource("download")


def download_help(spec: BackboneSpec, alpha: float | None, size: int, exc: BaseException) -> WeightsError:
    from ..errors import WeightsOfflineError

    name = spec.weights_filename(alpha, size)
    return WeightsOfflineError(
        f"Could not download ImageNet weights for {spec.name} (alpha={alpha}, size={size}): "
        f"{type(exc).__name__}: {exc}. This machine seems to be offline. Supply the weights yourself: "
        f"put {name!r} into a folder and pass --weights-dir FOLDER (or set {WEIGHTS_DIR_ENV}=FOLDER), "
        f"or pass --weights PATH/TO/FILE.weights.h5; or train from scratch with --weights none.")
