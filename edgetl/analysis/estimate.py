"""Latency estimates for a profile's device, from its hardware: block and the calibrated cost models.

- CPU targets (LiteRT/XNNPACK, ONNX Runtime on the CPU): ``cost.CostModel`` with the profile's ``core``, ``cores``
  and ``clock_ghz``; any profile, built-in or the user's own, that names them gets an estimate.
- Edge TPU targets: ``edgetpu_cost`` for the part the compiler maps; ops after the partition point run on the
  host CPU (``hardware.host``), estimated with the CPU model.
- GPU targets: no published anchors back them here; a stated prior (a fraction of the peak) with a wide range.

The range printed with an estimate is the 10th..90th percentile band of the leave-one-device-out residuals on the
published anchors (``benchmarks/estimator_cv.py``), so its coverage is measured, not assumed. A device's own
measurements (``edgetl calibrate``) correct the published fit per device (edgetl.analysis.calibrate) and give
the range of their own leave-one-model-out errors.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import numpy as np
from typing import Any

from ..devices import DeviceProfile
from ..hardware import KERNELS, link_of
from .cost import PROFILE_RUNTIMES, CostModel, cpu_from_hardware, work_of
from .report import ModelReport

CALIBRATION = Path(__file__).with_name("calibration.json")
GPU_PRIOR_EFFICIENCY = 0.1   # fraction of a GPU's fp16 peak a batch-1 CNN reaches (TensorRT, small models)
GPU_PRIOR_SPREAD = 3.0       # the printed range is x/÷ this: no anchors
PRIOR_WIDEN = 0.35           # log: how much each unfitted Edge TPU term (USB 2, a slow host) widens the range
LINK_NAMES = {"usb2": "USB 2", "usb3": "USB 3", "pcie": "PCIe", "onboard": "its on-board link (PCIe)"}


@functools.lru_cache(maxsize=1)
def load_calibration() -> dict[str, Any] | None:
    """The shipped fit (read once per process; callers copy what they change: CostModel.from_dict does)."""
    if CALIBRATION.is_file():
        cal = json.loads(CALIBRATION.read_text())
        return cal if cal.get("schema") == 2 else None
    return None


def _range(p50: float, q10: float, q90: float) -> tuple[float, float]:
    # residual r = log(predicted / published): the published value lies in [p50 / e^q90, p50 / e^q10]
    return p50 / math.exp(q90), p50 / math.exp(q10)


KERNEL_NAMES = {"xnnpack": "XNNPACK", "tflite-cpu": "TFLite's older built-in", "ncnn": "ncnn",
                "onnxruntime": "ONNX Runtime's MLAS"}
BASIS_NOTES = {"unseen-core": " (a core type without published anchors: a wider range)",
               "peak": " (a core edgetl does not list: from its peak_gflops_fp32; a wider range)",
               "clock": " (no core type or peak given: a typical core's rate per cycle; a much wider range)",
               "peak-only": " (only peak_gflops_fp32 given: 4 cores at 1.5 GHz assumed; a wider range)"}


def cost_runtime(prof: DeviceProfile) -> tuple[str, str]:
    """The cost model's runtime for a profile's CPU, and a note when its kernels were assumed, not stated."""
    if prof.runtime == "onnxruntime":
        return "onnxruntime", ""
    if prof.kernels:
        return KERNELS[prof.kernels], ""
    return PROFILE_RUNTIMES.get(prof.runtime, "xnnpack"), "XNNPACK kernels assumed (the profile has no kernels:)"


def _basis(model: CostModel, cpu: Any) -> str:
    return "unseen-core" if cpu.basis == "core" and cpu.core not in model.core_factor else cpu.basis


def _expected(v: dict[str, Any], basis: str) -> str:
    """What the cross-validation measured for estimates made on this much information."""
    b = (v.get("bases") or {}).get(basis)
    if basis == "core" or b is None:
        d = v["leave_one_device_out"]
        return (f"leave-one-device-out on {v['anchors']} published figures from {v['devices']} devices: median "
                f"{d['median_ape']:.0%}; the range held {d['coverage_80']:.0%} of them")
    return (f"devices held out with their near-twins ({v.get('groups', '?')} groups) and described like this "
            f"profile: median {b['median_ape']:.0%}; the range held {b['coverage_80']:.0%} of them")


def _precision(prec: str) -> tuple[str, str]:
    if prec == "int8":
        return "int8", ""
    if prec in ("fp16", "dynamic"):
        return "fp32", f"; {prec} is estimated as fp32 (the anchors have no {prec} runs)"
    return "fp32", ""


def estimate_for(r: ModelReport, prof: DeviceProfile, precision: str, threads: int | None = None
                 ) -> tuple[dict[str, Any] | None, str]:
    """An estimate for ``prof`` (or None) and, when None, a one-line reason."""
    if precision == "int16":
        return None, ("16-bit activations run on LiteRT's reference kernels on CPUs, not XNNPACK (tens of times "
                      "slower than int8: benchmarks/results/quant_matrix.json), and no anchor has such a run: measure "
                      "it (edgetl bench); NPUs and DSPs with 16x8 kernels run it fast")
    cal = load_calibration()
    if cal is None:
        return None, "the estimator's calibration file is missing from this installation"
    hw = prof.hardware or {}
    n = threads or max(prof.threads)
    work = work_of(r)
    if prof.delegate == "edgetpu" or hw.get("accelerator") == "edgetpu":
        return _edgetpu(r, prof, precision, work, cal)
    if prof.runtime == "onnxruntime" and any(p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
                                              for p in prof.providers):
        return _gpu(r, prof, precision, work)
    if prof.delegate == "gpu":
        return _gpu(r, prof, precision, work)
    cpu, why = cpu_from_hardware(hw)
    if cpu is None:
        return None, (f"profile {prof.name}: {why}; add them to estimate, or measure with "
                      f"'edgetl bench --device {prof.path or prof.name}'")
    model = CostModel.from_dict(cal["cpu"])
    runtime, kernels_note = cost_runtime(prof)
    prec, note = _precision(precision)
    p50 = model.predict_ms(work, cpu, threads=n, runtime=runtime, precision=prec)
    q10, q90 = model.band(cpu)
    basis = f"{cpu.cores}x {cpu.core} at {cpu.clock_ghz:g} GHz, {KERNEL_NAMES.get(runtime, runtime)} kernels"
    own = prof.latency_calibration
    if isinstance(own, dict) and own:
        from .calibrate import predict_calibrated

        try:
            p50 = predict_calibrated(model, work, cpu, min(n, cpu.cores), runtime, prec, own)
            q10, q90 = float(own.get("log_q10", q10)), float(own.get("log_q90", q90))
        except (KeyError, TypeError, ValueError):
            return None, (f"profile {prof.name}: its latency_calibration is not what edgetl calibrate writes "
                          "(fp32 and int8: three factors each, s); run edgetl calibrate again")
        basis += f", calibrated on {own.get('measurements', '?')} of its own measurements"
    else:
        basis += BASIS_NOTES.get(_basis(model, cpu), "")
    lo, hi = _range(p50, q10, q90)
    if kernels_note and not own:  # kernels not stated: the range reaches what TFLite's older kernels would take
        legacy = model.predict_ms(work, cpu, threads=n, runtime="tflite-cpu", precision=prec)
        hi = max(hi, legacy)
        note += f"; {kernels_note} (TFLite's older kernels: about {legacy:.1f} ms, kernels: tflite-legacy)"
    expected = _expected(cal["validation"], _basis(model, cpu))
    if isinstance(own, dict) and own.get("leave_one_model_out_median_ape") is not None:
        expected = (f"leave-one-model-out on this device's own {own.get('measurements')} measurements: median "
                    f"{float(own['leave_one_model_out_median_ape']):.0%}")
    return {"p50_ms": round(p50, 2), "p50_ms_low": round(lo, 2), "p50_ms_high": round(hi, 2),
            "threads": min(n, cpu.cores), "precision": precision, "runtime": runtime, "basis": basis,
            "kernels": prof.kernels or ("xnnpack (assumed)" if kernels_note else None), "hardware_basis": cpu.basis,
            "work": work.to_dict(),
            "expected_error": expected, "note": "an estimate, not a measurement" + note}, ""


def _edgetpu(r: ModelReport, prof: DeviceProfile, precision: str, work: Any, cal: dict[str, Any]
             ) -> tuple[dict[str, Any] | None, str]:
    from . import edgetpu_cost

    if precision != "int8":
        return None, "it would not run on the Edge TPU (not full integer): export tflite:int8 or tflite:uint8"
    hw = prof.hardware or {}
    mapped = 1.0
    host_ms, note = 0.0, ""
    from .compat import precision_of

    if r.format == "tflite" and precision_of(r) != "int8":
        note = "; assumes the int8 export maps fully to the Edge TPU (inspect that file to see its partition)"
    elif r.format == "tflite":
        from .edgetpu import lint_edgetpu

        lint = lint_edgetpu(r.path)
        if lint.partition_index is not None:
            tpu_macs = sum(layer.macs for layer in r.layers[:lint.partition_index])
            mapped = tpu_macs / max(1, r.macs)
            host, why = cpu_from_hardware(hw.get("host") or {})
            if host is None:
                return None, (f"the model maps only partly to the Edge TPU (from {lint.partition_op} on, it runs on "
                              f"the host) and profile {prof.name} does not describe its host CPU (hardware.host: "
                              "core, cores, clock_ghz)")
            rest = dataclasses.replace(r, layers=r.layers[lint.partition_index:])
            host_ms = CostModel.from_dict(cal["cpu"]).predict_ms(work_of(rest), host, threads=1,
                                                                 runtime="xnnpack", precision="int8")
            note = (f"; {100 * (1 - mapped):.0f}% of the MACs run on the host CPU after {lint.partition_op} "
                    f"({host_ms:.1f} ms of the estimate)")
    io = int(np.prod(r.input_shape or (1,))) + int(np.prod(r.output_shape or (1,)))  # int8: a byte each
    facts = {"macs_m": r.macs * mapped / 1e6, "params_m": r.params / 1e6, "io_bytes": io,
             "ops": round(work.ops * mapped)}
    tpu = cal["edgetpu"]
    p50 = edgetpu_cost.predict_ms(tpu, facts, hw) + host_ms
    priors = edgetpu_cost.priors(hw)
    widen = PRIOR_WIDEN * len(priors)  # each unfitted term widens the range (x/÷ e^0.35 each)
    lo, hi = _range(p50, tpu.get("log_q10", -0.4) - widen, tpu.get("log_q90", 0.4) + widen)
    link = link_of(hw)
    return {"p50_ms": round(p50, 2), "p50_ms_low": round(lo, 2), "p50_ms_high": round(hi, 2),
            "threads": 1, "precision": precision, "runtime": "edgetpu", "link": link,
            "basis": (f"Edge TPU over {LINK_NAMES[link]}: fitted on {tpu.get('rows', 0)} published Coral figures"
                      + (f"; priors, not fits: {'; '.join(priors)}" if priors else "")),
            "expected_error": (f"leave-one-model-out on the Coral figures: median {tpu.get('lomo_median_ape', 0):.0%}"
                               " (only two boards: no device was left out)"),
            "note": "an estimate, not a measurement" + note}, ""


def _gpu(r: ModelReport, prof: DeviceProfile, precision: str, work: Any) -> tuple[dict[str, Any] | None, str]:
    hw = prof.hardware or {}
    peak = hw.get("peak_gflops_fp16") or hw.get("peak_gflops_fp32")
    if not peak:
        return None, (f"profile {prof.name} runs on a GPU and its hardware: block has no peak_gflops_fp16 or "
                      "peak_gflops_fp32")
    p50 = 2 * r.macs / (float(peak) * 1e9 * GPU_PRIOR_EFFICIENCY) * 1e3 + 0.02 * work.ops
    return {"p50_ms": round(p50, 2), "p50_ms_low": round(p50 / GPU_PRIOR_SPREAD, 2),
            "p50_ms_high": round(p50 * GPU_PRIOR_SPREAD, 2), "threads": 1, "precision": precision, "runtime": "gpu",
            "basis": f"{GPU_PRIOR_EFFICIENCY:.0%} of the GPU's {peak} GFLOP/s peak plus 20 us per op (a prior)",
            "expected_error": "no published GPU anchors back this: a prior with a x/÷3 range",
            "note": "an estimate, not a measurement"}, ""
