"""``inspect``: analyze a model file and check it against device profiles."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from ..devices import DeviceProfile
from ..errors import ConfigError, EdgetlError, ModelFileError
from .report import ModelReport


def analyze(path: str | Path, *, unsafe_keras: bool = False) -> ModelReport:
    """Analyze a model file; any failure on a malformed file is one ModelFileError that names it."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"Model file {str(p)!r} does not exist. Check the path.")
    try:
        return _analyze(p, unsafe_keras)
    except EdgetlError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, struct.error, OverflowError, RecursionError, ArithmeticError,
            AttributeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{p}: cannot analyze this file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                             ". It may be malformed or truncated: export or copy it again.") from None


def _analyze(p: Path, unsafe_keras: bool) -> ModelReport:
    suffix = p.suffix.lower()
    if suffix == ".tflite":
        from ..formats.tflite.stats import analyze_tflite

        return analyze_tflite(p)
    if suffix == ".onnx":
        from ..deps import require

        require("onnx", extra="runtime")
        from .graph_stats import analyze_onnx

        return analyze_onnx(p)
    if suffix == ".keras":
        from ..deps import require

        require("keras", extra="train")
        from .graph_stats import analyze_keras

        return analyze_keras(p, unsafe=unsafe_keras)
    if suffix == ".xml":
        raise ConfigError(f"{p}: an OpenVINO IR; edgetl inspects the ONNX model it was converted from (the run's "
                          "model_fp32.onnx or model_int8.onnx: the same graph), and benchmarks the IR itself with "
                          "'edgetl bench RUN --device host-openvino'.")
    raise ConfigError(f"{p}: edgetl inspects .tflite, .onnx and .keras files; got {suffix!r}.")


def check(report: ModelReport, prof: DeviceProfile, *, threads: int | None = None,
          precision: str | None = None) -> dict[str, Any]:
    """What ``report``'s model does on ``prof``; ``threads`` and ``precision`` ask about another thread count or
    about the model exported at another precision (fp32, fp16, int8)."""
    import dataclasses

    if threads is not None:
        prof = dataclasses.replace(prof, threads=(threads,))
    from .. import targets
    from .compat import budgets, gpu_delegate, precision_of, runtime_compat
    from .estimate import estimate_for

    if report.format == "keras":
        fits = [t for t in targets.TARGETS if prof.accepts(t)[0]]
        ok, why = False, ("a .keras file is not what a device runs: export it first (edgetl export RUN --to "
                          f"{','.join(fits) or '...'})" if fits else "no export target runs on it")
    else:
        t = targets.for_file(report.path, report.input_dtype, quantized_weights=precision_of(report))
        ok, why = prof.accepts(t.name) if t else (False, f"unknown model format {report.format}")
    out: dict[str, Any] = {"device": prof.name, "runs_here": ok, "why_not": why}
    if prof.os_arch:
        from ..devices import OS_NOTES

        out["os"] = {"arch": prof.os_arch, "note": OS_NOTES[prof.os_arch]}
    if prof.emulated:
        out["emulated"] = True
    if report.format == "tflite":
        out["runtimes"] = runtime_compat(report)
        if prof.delegate == "gpu":
            out["gpu_delegate"] = gpu_delegate(report)
        if prof.delegate == "edgetpu" or prof.needs_full_int8:
            from .edgetpu import lint_edgetpu

            out["edgetpu"] = lint_edgetpu(report.path).to_dict()
    out["budgets"] = budgets(report, prof)
    if precision is not None and report.format != "keras":
        out["runs_here"], out["why_not"] = prof.accepts(f"{report.format}:{precision}") if \
            f"{report.format}:{precision}" in targets.TARGETS else (out["runs_here"], out["why_not"])
    if prof.emulated:
        out["estimate"], why = None, "an emulated device: its latency is the emulator's, so nothing is estimated"
    elif out["runs_here"] or report.format == "keras":
        out["estimate"], why = estimate_for(report, prof, precision or precision_of(report))
    else:
        out["estimate"], why = None, f"the model does not run there ({out['why_not']})"
    if out["estimate"] is None:
        out["estimate_unavailable"] = why or "no estimate for this combination"
    return out
