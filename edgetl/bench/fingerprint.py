"""What the benchmark actually ran on: CPU model, cores, governor, OS and library versions (stdlib only)."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in info.splitlines():
            if line.lower().startswith(key.lower()) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for dist in ("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "onnxruntime-gpu", "openvino", "edgetl"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    flags = (_read("/proc/cpuinfo") or "")
    simd = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "asimd", "neon") if f" {f}" in flags]
    return {
        "machine": platform.machine(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") or "unknown",
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "simd": simd, "versions": versions,
    }
