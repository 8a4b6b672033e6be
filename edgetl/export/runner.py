"""Run the export stages of a trained run and write the combined report (JSON and Markdown)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..artifacts import Artifact, atomic_write_json, atomic_write_text, read_json
from ..config import ExportConfig
from ..pipeline import StageResult, run_stage
from ..progress import scope

# one sign everywhere: points vs the Keras model, negative = the artifact is worse (as in the terminal)
COLUMNS = ("target", "status", "size_bytes", "validation top-1", "vs Keras pts", "test top-1", "test vs Keras pts",
           "top1_agreement", "max_abs_diff", "convert_s", "verify_ms_per_image", "file")


def _cells(r: dict[str, Any]) -> dict[str, Any]:
    t = r.get("test") or {}
    signed = (lambda d: None if d is None else f"{-float(d) + 0.0:+.2f}")
    return {**r, "validation top-1": r.get("accuracy"), "vs Keras pts": signed(r.get("accuracy_drop_points")),
            "test top-1": t.get("accuracy"), "test vs Keras pts": signed(t.get("accuracy_drop_points"))}


def export_run(train_dir: Path, run_dir: Path, config: ExportConfig, *,
               on_start: Callable[[str, str], None] | None = None) -> list[dict[str, Any]]:
    from .inputs import ExportInputs
    from .stages import ExportStage, ReferenceStage

    shared = ExportInputs.open(train_dir, config)
    model = Artifact.from_file(train_dir / "model.keras", "keras")
    split = Artifact.from_file(train_dir / "split.json", "json")
    ref = run_stage(ReferenceStage(shared), {"model": model, "split": split}, config, run_dir,
                    config_dict={"verify_images": config.verify_images}, on_start=on_start)
    rows = []
    for target in config.targets:
        stage = ExportStage(target, shared)
        with scope(str(target)):  # its steps' progress counters say whose they are
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
        cells = _cells(r)
        lines.append("| " + " | ".join(_fmt(cells.get(c)) for c in COLUMNS) + " |")
    flagged = [r for r in rows if r["status"] != "ok"]
    notes = "".join(f"\n- **{r['target']} {r['status'].upper()}**: {r['reason']}" for r in flagged)
    details = "".join(_quantization_section(r) for r in rows)
    atomic_write_text(run_dir / "export_report.md", "# Export report\n\n" + "\n".join(lines) + "\n" + notes + "\n"
                      + _clients_section(rows) + details)


def _clients_section(rows: list[dict[str, Any]]) -> str:
    """A row per artifact and client (MediaPipe Tasks, onnx.checker, OpenVINO), and which file is for what."""
    out = ["\n## In the clients apps use\n",
           "Each file loaded by the client itself with default options; agreement = same top-1 as edgetl's runtime "
           "on the same input (at least 99% required); own resize = MediaPipe given the photos (reported only).\n",
           "| target | client | status | items | agreement | own resize | detail |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for c in r.get("clients") or []:
            out.append(f"| {r['target']} | {c['client']} {c.get('version') or ''} | {c['status']} | {c['items']} | "
                       f"{_fmt(c.get('agreement'))} | {_fmt(c.get('own_resize_agreement'))} | "
                       f"{str(c.get('detail') or '').replace('|', '/')} |")
    out.append("")
    out += [f"- {r['target']} ({r['file']}): {r['use']}" for r in rows if r.get("use")]
    return "\n".join(out) + "\n" if any(r.get("clients") for r in rows) else ""


def _quantization_section(r: dict[str, Any]) -> str:
    """Per calibrated artifact: warnings, calibration audit, per-layer sensitivity, what selective kept float."""
    cal = r.get("calibration")
    if not cal:
        return ""
    out = [f"\n## {r['target']}: quantization\n"]
    for w in r.get("warnings") or []:
        out.append(f"- warning: {w}")
    per = ", ".join(f"{k} {v}" for k, v in (cal.get("per_class") or {}).items())
    out.append(f"- calibration: {cal.get('images')} {cal.get('unit', 'images')} from the {cal.get('split', 'train')}"
               + (f" ({per})" if per else ""))
    wr = cal.get("weight_rounding")
    if wr is not None:
        out.append("- weights: " + _rounding_line(wr))
    rng = cal.get("ranges") or {}
    if "error" in rng:
        out.append(f"- activation-range audit: not run ({rng['error']})")
    elif rng.get("skipped"):
        out.append(f"- activation-range audit: nothing to check ({rng['skipped']})")
    elif rng:
        out.append(f"- activation-range audit: {rng.get('tensors_exceeded', 0)} of {rng.get('tensors_checked', 0)} "
                   f"activation tensors clip more on {rng.get('heldback_inputs')} held-back validation inputs than "
                   f"on {rng.get('calibration_inputs')} calibration inputs")
    sel = r.get("selective")
    if sel:
        if sel.get("chosen"):
            kept = sel.get("float_layers") or []
            out.append(f"- selective quantization: {sel.get('reason', '')}; "
                       + (f"{len(kept)} layer(s) kept in float: " + ", ".join(f"`{k[:90]}`" for k in kept) if kept
                          else f"{sel.get('calibration')}, no layer in float"))
        else:
            out.append(f"- selective quantization: no candidate kept ({sel.get('reason', '')}); the plain artifact stands")
    sens = r.get("sensitivity") or {}
    if sens.get("layers"):
        metric = sens.get("metric", "")
        out.append(f"\nPer-layer sensitivity ({metric}, {sens.get('images')} {sens.get('split')} images; "
                   + ("higher = worse" if metric == "rmse_over_scale" else "lower = worse") + "):\n")
        out.append(f"| layer | {metric} |\n|---|---|")
        for row in sens["layers"][:10]:
            out.append(f"| `{str(row.get('layer'))[:100]}` | {row.get(metric)} |")
    elif sens.get("error"):
        out.append(f"- per-layer sensitivity: not available ({sens['error']})")
    return "\n".join(out) + "\n"


def _rounding_line(wr: Any) -> str:
    """One line on the weight rounding: what was kept and on what evidence (older reports hold a bool)."""
    if isinstance(wr, bool) or not wr.get("enabled"):
        return ("activation-aware rounding (chosen on held-back calibration images)" if wr is True
                else "each rounded to its nearest int8 step (weight rounding off)")
    errs = wr.get("held_back_output_error") or {}
    chosen = wr.get("chosen") or "nearest"
    what = {"nearest": "nearest rounding kept", "clip": "per-channel scale search with nearest rounding",
            "gptq": "per-channel scale search with GPTQ error feedback"}.get(chosen, chosen)
    line = what + (f" ({wr.get('layers_rewritten')} layers rewritten)" if chosen != "nearest" else "")
    if errs:
        line += (f"; output error vs float on {wr.get('held_back_inputs')} held-back calibration images: "
                 + ", ".join(f"{k} {v:.4g}" for k, v in errs.items()))
    return line + " (the sensitivity table below is of nearest rounding: the runtimes' debuggers quantize the model)"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)
