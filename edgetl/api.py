"""The Python API: the same verbs and option names as the CLI (train, export, pipeline).

Heavy libraries are imported inside each function, so ``import edgetl`` stays light.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .artifacts import Artifact, atomic_write_json, read_json, sha256_file
from .config import ExportConfig, TrainConfig
from .pipeline import StageResult, run_stage
from .targets import get as get_target

RUN_FILE = "run.json"
# Options that locate inputs rather than decide the result: the cache key uses the inputs' content instead.
_LOCATION_KEYS = ("data", "val_data", "weights", "weights_dir", "cache_dir")


def _update_run(run_dir: Path, change: Any) -> dict[str, Any]:
    """Read-modify-write ``run.json`` under the run's lock, so concurrent commands never lose each other's entries."""
    from .pipeline import locked

    path = run_dir / RUN_FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir, "run"):
        state: dict[str, Any] = {}
        if path.is_file():
            try:
                state = read_json(path)
            except ValueError:
                state = {}
        state.setdefault("schema", 1)
        change(state)
        atomic_write_json(path, state)
    return state


def _record(run_dir: Path, stage: str, result: StageResult) -> None:
    entry = {"key": result.key, "dir": result.out_dir.name, "cached": result.cached,
             "seconds": round(result.seconds, 2), "info": result.info}
    _update_run(run_dir, lambda state: state.setdefault("stages", {}).__setitem__(stage, entry))


def train(config: TrainConfig, out: str | Path, *, progress: bool = True) -> StageResult:
    """Train a classifier as ``config`` says; results go to ``out/train-<key>/``.

    Example:
        >>> from edgetl import TrainConfig
        >>> from edgetl.api import train
        >>> result = train(TrainConfig(data="flowers", weights="imagenet"), "runs/flowers")  # doctest: +SKIP
        >>> result.outputs["model"].path  # doctest: +SKIP
    """
    from .backbones.specs import get_spec
    from .backbones.weights import resolve_weights
    from .data.scan import scan
    from .deps import require

    for module in ("tensorflow", "keras", "matplotlib"):
        require(module, extra="train")
    from .train.fit import TrainStage

    from .data.cache import default_cache_dir
    from .data.download import PREFIX, resolve_data

    if config.data.startswith(PREFIX):
        cache = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
        config = config.replace(data=resolve_data(config.data, cache))
    spec = get_spec(config.backbone)
    alpha, size = spec.resolve_alpha(config.alpha), spec.resolve_size(config.image_size)
    weights = resolve_weights(spec, alpha, size, config.weights, config.weights_dir)
    ds = scan(config.data)
    val = scan(config.val_data, classes=ds.classes) if config.val_data else None
    data_hash = ds.content_hash() + (val.content_hash() if val else "")
    if weights.path is not None:
        w_art = Artifact(weights.path, sha256_file(weights.path), "weights")
    else:
        w_art = Artifact(Path(weights.kind), f"{weights.kind}:{spec.name}:{alpha}:{size}", "weights")
    inputs = {"data": Artifact(ds.root, data_hash, "dataset"), "weights": w_art}
    key_cfg = {k: v for k, v in config.to_dict().items() if k not in _LOCATION_KEYS}
    run_dir = Path(out)
    result = run_stage(TrainStage(ds, val, progress=progress), inputs, config, run_dir, config_dict=key_cfg)
    _record(run_dir, "train", result)
    return result


def export(run_dir: str | Path, config: "ExportConfig", *, on_start: Any = None) -> list[dict[str, Any]]:
    """Export the model trained in ``run_dir`` to every target in ``config``; one verified report row each.

    Example:
        >>> rows = export("runs/flowers", ExportConfig(targets=("tflite:int8",)))  # doctest: +SKIP
        >>> rows[0]["status"]  # doctest: +SKIP
        'ok'
    """
    from .deps import require

    for module in ("tensorflow", "keras"):
        require(module, extra="train")
    for t in config.targets:
        fmt = get_target(t).format
        for module in fmt.export_modules + fmt.runtime_modules:
            require(module, extra="train")
    from .export.runner import export_run

    rd = Path(run_dir)
    train_dir = find_stage(rd, "train")
    rows = export_run(train_dir, rd, config, on_start=on_start)
    new = {r["target"]: {"path": str(Path(r["path"]).relative_to(rd)), "status": r["status"],
                         "train_stage": train_dir.name} for r in rows}

    def merge(state: dict[str, Any]) -> None:
        # Keep earlier exports of the same trained model (other targets); drop those of a model trained before.
        old = {t: e for t, e in (state.get("exports") or {}).items()
               if e.get("train_stage") == train_dir.name and (rd / e.get("path", "")).is_file()}
        state["exports"] = {**old, **new}

    _update_run(rd, merge)
    return rows


def find_stage(run_dir: str | Path, stage: str) -> Path:
    """The folder of the last finished ``stage`` recorded in ``run_dir/run.json``."""
    from .errors import ConfigError

    rd = Path(run_dir)
    path = rd / RUN_FILE
    if not path.is_file():
        raise ConfigError(f"{str(rd)!r} is not an edgetl run folder (no {RUN_FILE}). Pass the --out folder of "
                          "'edgetl train' or 'edgetl pipeline'.")
    entry = read_json(path).get("stages", {}).get(stage)
    if not entry or not (rd / entry["dir"] / "stage.json").is_file():
        raise ConfigError(f"Run folder {str(rd)!r} has no finished {stage!r} stage. Run 'edgetl {stage}' first.")
    return rd / entry["dir"]
