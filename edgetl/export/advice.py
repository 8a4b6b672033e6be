"""What to try when a quantized artifact loses more than its accuracy budget: the likely cause, the next command."""
from __future__ import annotations

from typing import Any

from ..config import ExportConfig
from ..targets import Target


def over_budget_warning(target: Target, report: dict[str, Any], config: ExportConfig, run_dir: str, *,
                        selective: bool = True) -> str | None:
    """A one-paragraph warning when ``report`` (validation split) is over ``config.accuracy_budget``, else None.

    The causes are read from the report itself (calibration count, the range audit, the weight rounding kept,
    whether selective quantization ran), so the advice names what is most likely, then what else to try.
    ``selective``: whether selective quantization can run on this artifact (not on text models yet)."""
    drop = float(report.get("accuracy_drop_points") or 0.0)
    if not target.quantized or drop <= config.accuracy_budget:
        return None
    cal = report.get("calibration") or {}
    ranges = cal.get("ranges") or {}
    wr = cal.get("weight_rounding") or {}
    cmd = f"edgetl export {run_dir} --to {target.name}"
    causes, tries = [], []
    if target.calibrated and (cal.get("images") or 0) < 300:
        causes.append(f"ranges from {cal.get('images')} calibration {cal.get('unit', 'images')}")
        tries.append(f"`{cmd} --calibration-images 500`")
    if ranges.get("tensors_exceeded"):
        causes.append(f"{ranges['tensors_exceeded']} activation tensor(s) clipping on held-back images")
    if isinstance(wr, dict) and wr.get("enabled") and wr.get("chosen") not in (None, "nearest"):
        tries.append(f"`{cmd} --set round_weights=false` (nearest rounding; weight rounding kept {wr['chosen']})")
    if selective and target.calibrated and target.activation_bits == 8 and not report.get("selective"):
        tries.append(f"`{cmd} --selective` (keeps the most sensitive layers float, within a latency limit)")
    if target.calibrated and target.activation_bits == 8 and target.format.name == "tflite":
        tries.append(f"`{cmd.replace(target.name, 'tflite:int16')}` (16-bit activations, int8 weights: "
                     "accurate where int8 activations are not; fast on NPUs and DSPs, slow on CPU)")
    if not target.calibrated or not tries:
        tries.append(f"a float16 artifact: `{cmd.replace(target.name, target.format.name + ':fp16')}`")
    ci = report.get("accuracy_drop_ci95_points")
    sure = (f"95% interval {ci[0]:.2f}..{ci[1]:.2f}" if ci else "") + (
        ", beyond noise" if ci and ci[0] > config.accuracy_budget else ", within noise of the budget" if ci else "")
    return (f"{drop:.2f} points below the float model on {report.get('images')} validation images ({sure}), over "
            f"the budget of {config.accuracy_budget:g}"
            + (f"; likely cause: {'; '.join(causes)}" if causes else "")
            + f". Next, try {tries[0]}" + (f"; then {'; '.join(tries[1:])}" if len(tries) > 1 else "") + ".")
