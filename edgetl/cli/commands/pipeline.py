"""``edgetl pipeline``: train -> export (-> benchmark) from one YAML file, with stage caching."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ...config import ConfigError, ExportConfig, TrainConfig, apply_overrides, load_yaml

SECTIONS = ("run_dir", "train", "export", "bench")
BENCH_KEYS = ("devices", "threads", "max_images")
_PATH_KEYS = ("data", "val_data", "weights_dir", "cache_dir")


def _relative_to(base: Path, value: Any) -> Any:
    if not isinstance(value, str) or value.startswith("download:") or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


@click.command()
@click.argument("config_file", type=click.Path())
@click.option("--set", "sets", multiple=True, help="Override an option: --set train.epochs=5 (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def pipeline(config_file: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Run the stages in CONFIG_FILE; a rerun reuses every stage whose inputs and options are unchanged.

    Relative paths in the file are relative to the file; paths given with --set are relative to the
    current folder.
    """
    base = Path(config_file).resolve().parent
    raw = load_yaml(config_file)
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], SECTIONS, n=1)
        raise ConfigError(f"{config_file}: unknown section {unknown[0]!r}." +
                          (f" Did you mean {close[0]!r}?" if close else "") + f" Known: {', '.join(SECTIONS)}.")
    for key in _PATH_KEYS:
        if key in raw.get("train", {}) or {}:
            raw["train"][key] = _relative_to(base, raw["train"][key])
    if "run_dir" in raw:
        raw["run_dir"] = _relative_to(base, raw["run_dir"])
    data = apply_overrides(raw, sets)
    for key in _PATH_KEYS:  # --set paths are relative to the current folder
        v = (data.get("train") or {}).get(key)
        if isinstance(v, str) and not v.startswith("download:"):
            data["train"][key] = str(Path(v).expanduser().resolve())
    train_cfg = TrainConfig.from_dict(data.get("train"))
    export_cfg = ExportConfig.from_dict(data.get("export") or {})
    run_dir = Path(data.get("run_dir") or "runs/pipeline")
    say = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    say(f"run folder: {run_dir}")
    say(f"train: {train_cfg.to_dict()}")
    say(f"export: {export_cfg.to_dict()}")
    from ...api import export, train
    from ...artifacts import read_json

    res = train(train_cfg, run_dir, progress=not as_json)
    m = read_json(res.out_dir / "metrics.json")
    say(f"train: {'reused ' if res.cached else ''}{res.out_dir.name}: {m['strategy']['strategy']}, validation "
        f"top-1 {m['validation']['top1']:.4f} on {m['validation']['images']} images")
    rows = export(run_dir, export_cfg, on_start=lambda s, k: say(f"running {s} ({k})"))
    bench_cfg = data.get("bench")
    if bench_cfg:
        _bench(run_dir, bench_cfg, say)
    from .export import finish

    summary = {"run_dir": str(run_dir), "train": {"stage_dir": str(res.out_dir), "cached": res.cached,
                                                  "strategy": m["strategy"], "validation_top1": m["validation"]["top1"]}}
    from ...artifacts import atomic_write_json

    atomic_write_json(run_dir / "pipeline_report.json", {**summary, "artifacts": rows})
    say(f"reports: {run_dir / 'export_report.md'}, {run_dir / 'pipeline_report.json'}")
    finish(rows, as_json, summary)


def _bench(run_dir: Path, cfg: dict[str, Any], say: Any) -> None:
    """The benchmark step: measured every time (a measurement is not a cached artifact)."""
    import dataclasses

    from ...bench.report import write_reports
    from ...bench.runner import collect, run_bench
    from ...devices import load_profile

    unknown = [k for k in cfg if k not in BENCH_KEYS]
    if unknown:
        raise ConfigError(f"Unknown bench option {unknown[0]!r}; known: {', '.join(BENCH_KEYS)}.")
    def as_list(v: Any) -> list[str]:  # YAML list, or "a,b" from --set bench.devices=a,b
        return [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else [str(x) for x in v]

    profs = [load_profile(d) for d in as_list(cfg.get("devices", ["host-cpu"]))]
    threads = as_list(cfg["threads"]) if cfg.get("threads") else None
    rows = run_bench(collect([str(run_dir)]), profs, data_dir=None, out_dir=run_dir / "bench",
                     threads=[int(t) for t in threads] if threads else None, max_images=int(cfg.get("max_images", 0)),
                     progress=lambda m: say(f"bench {m}"))
    paths = write_reports(rows, run_dir / "bench", {p.name: dataclasses.asdict(p) for p in profs})
    from .bench import table

    table([{k: r.get(k) for k in r if k not in ("latencies_ms", "preds", "fingerprint")} for r in rows])
    say(f"bench reports: {paths['html']}")

