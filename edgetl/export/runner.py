"""Run the export stages of a trained run and write the combined report (JSON and Markdown)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..artifacts import Artifact, atomic_write_json, atomic_write_text, read_json
from ..config import ExportConfig
from ..pipeline import StageResult, run_stage

COLUMNS = ("target", "status", "size_bytes", "accuracy", "accuracy_drop_points", "top1_agreement", "max_abs_diff",
           "convert_s", "verify_ms_per_image", "file")


def export_run(train_dir: Path, run_dir: Path, config: ExportConfig, *,
               on_start: Callable[[str, str], None] | None = None) -> list[dict[str, Any]]:
    from .stages import ExportInputs, ExportStage, ReferenceStage

    shared = ExportInputs(train_dir, config)
    model = Artifact.from_file(train_dir / "model.keras", "keras")
    split = Artifact.from_file(train_dir / "split.json", "json")
    ref = run_stage(ReferenceStage(shared), {"model": model, "split": split}, config, run_dir,
                    config_dict={"verify_images": config.verify_images}, on_start=on_start)
    rows = []
    for target in config.targets:
        stage = ExportStage(target, shared)
        res: StageResult = run_stage(stage, {"model": model, "reference": ref.outputs["reference"]}, config,
                                     run_dir, config_dict=stage.key_config(config), on_start=on_start)
        report = read_json(res.outputs["report"].path)
        report["path"] = str(res.outputs["model"].path)
        report["cached"] = res.cached
        rows.append(report)
    write_report(run_dir, rows)
    return rows


def write_report(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_json(run_dir / "export_report.json", {"schema": 1, "artifacts": rows})
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS) + " |")
    flagged = [r for r in rows if r["status"] != "ok"]
    notes = "".join(f"\n- **{r['target']} {r['status'].upper()}**: {r['reason']}" for r in flagged)
    atomic_write_text(run_dir / "export_report.md", "# Export report\n\n" + "\n".join(lines) + "\n" + notes + "\n")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)
