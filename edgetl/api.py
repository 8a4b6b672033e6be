"""The Python API: the same verbs and option names as the CLI (train, export, pipeline, publish_artifacts).

Heavy libraries are imported inside each function, so ``import edgetl`` stays light.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifacts import Artifact, atomic_write_json, read_json, sha256_file
from .config import ExportConfig, TrainConfig
from .config.train import refuse_other_modality, train_key
from .pipeline import StageResult, run_stage
from .targets import get as get_target
from .train_record import read as read_record

if TYPE_CHECKING:
    from .config import PipelineConfig

from .runs import RUN_FILE, check_run_dir, publish_artifacts  # noqa: E402


def _update_run(run_dir: Path, change: Any) -> dict[str, Any]:
    """Read-modify-write ``run.json`` under the run's lock, so concurrent commands never lose each other's entries."""
    from .pipeline import locked
    from .runs import read_run

    path = run_dir / RUN_FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir, "run"):
        state: dict[str, Any] = read_run(run_dir) if path.exists() else {}
        state.setdefault("schema", 1)
        state["tool"] = "edgetl"
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
    from .deps import import_tensorflow, require
    from .deps import quiet_libraries

    quiet_libraries()  # converter and TensorFlow logs need EDGETL_QUIET_NATIVE=0, as the CLI's need -v
    check_run_dir(out)  # a folder of the user's files is refused before anything is written into it
    if config.ray:  # a missing ray or a wrong address fails before minutes of decoding
        from .distributed.ray_features import preflight

        preflight(config.ray)
    import_tensorflow()
    require("matplotlib", extra="train")
    from .train.fit import TrainStage

    from .data.cache import default_cache_dir
    from .data.download import PREFIX, resolve_data

    if config.data.startswith(PREFIX):
        cache = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
        config = config.replace(data=resolve_data(config.data, cache))
    from .text.data import is_text_data
    from .text.specs import is_text_backbone

    if is_text_backbone(config.backbone) or is_text_data(config.data):
        return _train_text(config, out, progress)
    refuse_other_modality(config, "image")
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
    key_cfg = train_key(config, "image")
    run_dir = Path(out)
    existed = run_dir.exists()
    try:
        result = run_stage(TrainStage(ds, val, progress=progress), inputs, config, run_dir, config_dict=key_cfg)
    except BaseException:
        _remove_if_empty(run_dir, existed)
        raise
    _record(run_dir, "train", result)
    return result


def _train_text(config: TrainConfig, out: str | Path, progress: bool) -> StageResult:
    """The text path: a CSV/TSV/JSONL file or class folders of .txt files, and a pretrained text encoder."""
    from .data.cache import default_cache_dir
    from .errors import ConfigError
    from .text.data import load_texts
    from .text.specs import get_text_spec, is_text_backbone, resolve_text_weights
    from .text.train import TextTrainStage, check_text_config

    if not is_text_backbone(config.backbone):
        if config.backbone != TrainConfig.__dataclass_fields__["backbone"].default:
            raise ConfigError(f"{config.data!r} holds texts but backbone {config.backbone!r} is an image backbone. "
                              "Pick a text encoder (edgetl backbones lists them), e.g. --backbone minilm_l6.")
        config = config.replace(backbone="minilm_l6")  # the default backbone, for text data
    check_text_config(config)
    spec = get_text_spec(config.backbone)
    cache = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
    folder, published = resolve_text_weights(spec, config.weights, config.weights_dir, cache)
    ds = load_texts(config.data, text_column=config.text_column, label_column=config.label_column,
                    strict=config.strict)
    val = load_texts(config.val_data, text_column=config.text_column, label_column=config.label_column,
                     strict=config.strict, classes=ds.classes) if config.val_data else None
    data_hash = ds.content_hash() + (val.content_hash() if val else "")
    inputs = {"data": Artifact(ds.root, data_hash, "dataset"),
              "weights": Artifact(folder / "model.safetensors", sha256_file(folder / "model.safetensors"), "weights")}
    key_cfg = train_key(config, "text")
    run_dir = Path(out)
    existed = run_dir.exists()
    try:
        result = run_stage(TextTrainStage(ds, val, folder, progress=progress,
                                          expected_sha256=spec.sha256 if published else None), inputs, config, run_dir,
                           config_dict=key_cfg)
    except BaseException:
        _remove_if_empty(run_dir, existed)
        raise
    _record(run_dir, "train", result)
    return result


def _remove_if_empty(run_dir: Path, existed: bool) -> None:
    """A failed first training leaves no run folder behind (only its lock files would be in it)."""
    import shutil

    if not existed and run_dir.is_dir() and all(p.name == ".locks" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def export(run_dir: str | Path, config: "ExportConfig", *, on_start: Any = None) -> list[dict[str, Any]]:
    """Export the model trained in ``run_dir`` to every target in ``config``; one verified report row each.

    Example:
        >>> rows = export("runs/flowers", ExportConfig(targets=("tflite:int8",)))  # doctest: +SKIP
        >>> rows[0]["status"]  # doctest: +SKIP
        'ok'
    """
    from .deps import check_installed
    from .deps import quiet_libraries

    quiet_libraries()
    rd = Path(run_dir)
    train_dir = find_stage(rd, "train")  # "not a run folder" before any heavy import
    for module in ("tensorflow", "keras"):
        check_installed(module, extra="train")
    for t in config.targets:
        fmt = get_target(t).format
        for module in fmt.export_modules + fmt.runtime_modules:
            check_installed(module, extra="train")
    from .export.runner import export_run

    from .deps import import_tensorflow

    import_tensorflow()
    rows = export_run(train_dir, rd, config, on_start=on_start)
    new = {r["target"]: {"path": str(Path(r["path"]).relative_to(rd)), "status": r["status"],
                         "train_stage": train_dir.name} for r in rows}

    def merge(state: dict[str, Any]) -> None:
        # Keep earlier exports of the same trained model (other targets); drop those of a model trained before.
        old = {t: e for t, e in (state.get("exports") or {}).items()
               if e.get("train_stage") == train_dir.name and (rd / e.get("path", "")).is_file()}
        state["exports"] = {**old, **new}

    _update_run(rd, merge)
    publish_artifacts(rd)
    return rows


def find_stage(run_dir: str | Path, stage: str) -> Path:
    """The folder of the last finished ``stage`` recorded in ``run_dir/run.json``."""
    from .errors import ConfigError
    from .runs import read_run

    rd = Path(run_dir)
    entry = read_run(rd).get("stages", {}).get(stage)
    if not entry or not (rd / entry["dir"] / "stage.json").is_file():
        raise ConfigError(f"Run folder {str(rd)!r} has no finished {stage!r} stage. Run 'edgetl {stage}' first.")
    return rd / entry["dir"]


@dataclass(frozen=True)
class PipelineResult:
    """What ``pipeline`` did: the train stage, one row per exported artifact, the bench stage, the summary."""

    run_dir: Path
    train: StageResult
    exports: list[dict[str, Any]]
    bench: StageResult | None
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        from .export.verify import PASSING

        return all(r["status"] in PASSING for r in self.exports)


SMOKE = ("a smoke run (smoke: true, e.g. examples/quick.yaml): small backbone, few epochs, short timing; it shows "
         "the tool works here, its numbers are no result")


def preflight(config: "PipelineConfig") -> dict[str, Any]:
    """Every check that needs no model: options, device profiles, data folders, backbone, weights, packages.

    Runs in well under two seconds, before any stage, so a typo in the last section of a YAML file is
    reported before minutes of training, not after.
    """
    from .backbones.specs import get_spec
    from .backbones.weights import resolve_weights
    from .data.download import PREFIX
    from .data.scan import scan
    from .deps import check_installed

    t = config.train
    check_run_dir(config.run_dir)
    for module in ("tensorflow", "keras", "matplotlib"):
        check_installed(module, extra="train")
    for name in config.export.targets:
        fmt = get_target(name).format
        for module in fmt.export_modules + fmt.runtime_modules:
            check_installed(module, extra="train")
    profiles = config.bench.profiles() if config.bench else []
    from .text.data import is_text_data, load_texts
    from .text.specs import get_text_spec, is_text_backbone

    if is_text_backbone(t.backbone) or (not t.data.startswith(PREFIX) and is_text_data(t.data)):
        from .data.cache import default_cache_dir
        from .text.specs import resolve_text_weights
        from .text.train import check_text_config

        tspec = get_text_spec(t.backbone if is_text_backbone(t.backbone) else "minilm_l6")
        check_text_config(t)
        cache = Path(t.cache_dir).expanduser() if t.cache_dir else default_cache_dir()
        ds = load_texts(t.data, text_column=t.text_column, label_column=t.label_column, strict=t.strict)
        folder, _ = resolve_text_weights(tspec, t.weights, t.weights_dir, cache)  # the data first: it is the user's
        return {"backbone": tspec.name, "kind": "text", "weights": str(folder), "devices": [p.name for p in profiles],
                "data": {"classes": len(ds.classes), "images": len(ds.texts)}}
    refuse_other_modality(t, "image")
    spec = get_spec(t.backbone)
    alpha, size = spec.resolve_alpha(t.alpha), spec.resolve_size(t.image_size)
    weights = resolve_weights(spec, alpha, size, t.weights, t.weights_dir)
    facts: dict[str, Any] = {"backbone": spec.name, "alpha": alpha, "size": size, "weights": weights.describe(),
                             "devices": [p.name for p in profiles]}
    if not t.data.startswith(PREFIX):
        ds = scan(t.data)
        facts["data"] = {"classes": len(ds.classes), "images": len(ds.samples)}
        if t.val_data:
            scan(t.val_data, classes=ds.classes)
    unused = [p.name for p in profiles if not any(p.accepts(x)[0] for x in config.export.targets)]
    if unused:
        facts["warnings"] = [f"device {n} runs none of the exported targets ({', '.join(config.export.targets)}); "
                             "it will have no rows" for n in unused]
    return facts


def pipeline(config: "PipelineConfig", *, progress: bool = True, say: Any = None) -> PipelineResult:
    """Train, export, verify and (optionally) benchmark, reusing every stage whose inputs did not change.

    Example:
        >>> from edgetl.config import PipelineConfig, load_yaml
        >>> cfg = PipelineConfig.from_dict(load_yaml("examples/flowers.yaml"), base="examples")  # doctest: +SKIP
        >>> pipeline(cfg).summary["best"]  # doctest: +SKIP
    """
    import time

    note = say or (lambda m: None)
    run_dir = Path(config.run_dir)
    t0 = time.perf_counter()
    facts = preflight(config)
    for w in facts.get("warnings", []):
        note(f"warning: {w}")
    n_stages = 3 + (1 if config.bench else 0)
    from .modality import get as get_modality

    items = get_modality(facts.get("kind")).unit
    if config.smoke:
        note(SMOKE)
    note(f"[1/{n_stages}] train ({facts['backbone']}, {facts.get('data', {}).get('images', '?')} {items})")
    res = train(config.train, run_dir, progress=progress)
    rec = read_record(res.out_dir)
    note(f"      {'reused ' if res.cached else ''}{res.out_dir.name}: {rec.strategy['strategy']}, validation top-1 "
         f"{rec.validation['top1']:.4f} on {rec.validation['images']} {items} ({_elapsed(t0)})")
    note(f"[2/{n_stages}] export and verify {len(config.export.targets)} artifacts")
    rows = export(run_dir, config.export, on_start=lambda s, k: note(f"      {s} ({k}) ({_elapsed(t0)})"))
    art_dir = publish_artifacts(run_dir)
    note(f"[3/{n_stages}] artifacts: {art_dir}")
    bench_res = _pipeline_bench(config, run_dir, note, f"[4/{n_stages}]", t0) if config.bench else None
    summary = {"run_dir": str(run_dir), "seconds": round(time.perf_counter() - t0, 1),
               **({"smoke": SMOKE} if config.smoke else {}),
               "train": {"stage_dir": str(res.out_dir), "cached": res.cached, "strategy": rec.strategy,
                         "validation_top1": rec.validation["top1"], "validation_images": rec.validation["images"],
                         **({"test_top1": rec.test["top1"], "test_images": rec.test["images"]}
                            if isinstance(rec.test, dict) and "top1" in rec.test else {})},
               "artifacts_dir": str(art_dir),
               "artifacts": [{k: r.get(k) for k in ("target", "status", "accuracy", "accuracy_drop_points", "test",
                                                    "top1_agreement", "size_bytes", "reason", "use")} for r in rows]}
    if bench_res is not None:
        doc = read_json(bench_res.out_dir / "bench.json")
        from .bench.handoff import handoffs

        summary["bench"] = {"dir": str(run_dir / "bench"), "cached": bench_res.cached, "best": doc.get("best", []),
                            "omitted": len(doc.get("omitted", [])),
                            "handoff": handoffs(doc, art_dir, rows, kind=facts.get("kind", "image"))}
    from .report.run_page import write_run_page

    summary["report"] = str(run_dir / "report.html")
    write_run_page(run_dir, summary, rows, record=rec)
    atomic_write_json(run_dir / "pipeline_report.json", {**summary, "config": config.to_dict(), "exports": rows})
    return PipelineResult(run_dir, res, rows, bench_res, summary)


def _pipeline_bench(config: "PipelineConfig", run_dir: Path, note: Any, step: str, t0: float) -> Any:
    """The pipeline's bench stage on the run's current artifacts; ``run_dir/bench`` links to it."""
    from .bench.stage import bench_run
    from .runs import link_latest, read_run, run_path

    state = read_run(run_dir)
    arts = {t: Artifact.from_file(run_path(run_dir, e["path"]), "model") for t, e in sorted(state["exports"].items())
            if t in config.export.targets}
    note(f"{step} bench on {', '.join(config.bench.devices)}")
    res = bench_run(run_dir, config.bench, arts, accuracy_budget=config.export.accuracy_budget,
                    progress=lambda m: note(f"      {m} ({_elapsed(t0)})"), on_start=lambda s, k: None)
    link_latest(run_dir / "bench", res.out_dir)
    _record(run_dir, "bench", res)
    return res


def _elapsed(t0: float) -> str:
    import time

    s = int(time.perf_counter() - t0)
    return f"{s // 60}:{s % 60:02d} elapsed"
