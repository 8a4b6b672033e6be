"""Per-profile checks of an analyzed model: runtime op versions, GPU delegate, budgets (estimates: estimate.py)."""
from __future__ import annotations

from typing import Any

from ..devices import DeviceProfile
from .report import ModelReport

# Runtimes a profile may meet, with the TFLite runtime version they implement.
TFLITE_RUNTIMES = {"ai-edge-litert 2.x": "2.18.0", "tflite-runtime 2.14 (last release, old devices)": "2.14.0"}
# Op versions newer than tflite-runtime 2.14 that TF 2.21 emits (seen in edgetl's own exports).
KNOWN_NEWER_THAN_2_14 = {("FULLY_CONNECTED", 12): "2.17.0"}
GPU_DELEGATE_OPS = {"ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE",
                    "FULLY_CONNECTED", "HARD_SWISH", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "PRELU",
                    "QUANTIZE", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "SOFTMAX", "SUB", "TANH", "TRANSPOSE_CONV"}
RUNTIME_OVERHEAD_MB = 30  # interpreter, Python and numpy, measured on host-cpu (RSS before the model loads)


def _version_tuple(v: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in (v or "0").split(".")[:3])
    except ValueError:
        return (0,)


def runtime_compat(r: ModelReport) -> list[dict[str, Any]]:
    if r.format != "tflite":
        return []
    out = []
    need = _version_tuple(r.min_runtime_version)
    for name, has in TFLITE_RUNTIMES.items():
        ok = need <= _version_tuple(has)
        culprits = [f"{op} v{v} (needs {ver})" for (op, v), ver in KNOWN_NEWER_THAN_2_14.items()
                    if f"{op} v{v}" in r.ops and _version_tuple(ver) > _version_tuple(has)]
        fix = "" if ok else ("upgrade the device to ai-edge-litert (pip install ai-edge-litert), or export a "
                             "full-integer or fp32 model, whose ops stay at older versions")
        out.append({"runtime": name, "ok": ok, "model_needs": r.min_runtime_version, "culprits": culprits, "fix": fix})
    return out


def gpu_delegate(r: ModelReport) -> dict[str, Any]:
    names = {k.rsplit(" v", 1)[0] for k in r.ops}
    missing = sorted(names - GPU_DELEGATE_OPS)
    return {"ok": not missing, "unsupported_ops": missing,
            "note": "ops outside the GPU delegate fall back to the CPU, splitting the graph" if missing else ""}


def precision_of(r: ModelReport) -> str:
    weights = r.weight_bytes_by_dtype
    acts = r.activation_bytes_by_dtype
    if acts.get("int16", 0) > sum(v for k, v in acts.items() if k != "int16"):
        return "int16"  # 16-bit activations with int8 weights (tflite:int16)
    if r.input_dtype in ("int8", "uint8") or any(k.startswith("QuantizeLinear") for k in r.ops):
        return "int8"  # full-integer TFLite, or ONNX QDQ (activations quantized too)
    if weights.get("int8", 0) > weights.get("float32", 0):
        return "dynamic"
    return "fp16" if weights.get("float16", 0) > weights.get("float32", 0) else "fp32"


def budgets(r: ModelReport, prof: DeviceProfile) -> dict[str, Any]:
    need_mb = (r.weight_bytes + (r.peak_activation_bytes or 0)) / 2**20 + RUNTIME_OVERHEAD_MB
    out: dict[str, Any] = {"ram_needed_mb": round(need_mb, 1), "ram_budget_mb": prof.ram_mb,
                           "storage_needed_mb": round(r.file_bytes / 2**20, 2), "storage_budget_mb": prof.storage_mb}
    out["ram_fits"] = None if prof.ram_mb is None else need_mb <= prof.ram_mb
    out["storage_fits"] = None if prof.storage_mb is None else r.file_bytes / 2**20 <= prof.storage_mb
    out["dominated_by"] = (r.largest_weights[:1] if r.weight_bytes > (r.peak_activation_bytes or 0)
                           else r.largest_activations[:1])
    return out
