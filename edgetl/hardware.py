"""A device profile's ``hardware:`` block: the keys edgetl reads, checked when the profile loads.

The estimator (``edgetl/analysis``) reads these facts; a typo under ``hardware:`` used to be accepted silently and
the estimate made without it. Now an unknown key fails with "Did you mean", like an unknown profile field.

- CPU: ``core`` (``edgetl.analysis.cost.CORES``), ``cores``, ``clock_ghz``, ``peak_gflops_fp32``,
  ``int8_dot_product``; ``kernels`` (also a profile field): the CPU kernels the board's runtime runs,
  ``xnnpack`` (LiteRT's default), ``tflite-legacy`` (TFLite's built-in kernels: float before TensorFlow 2.3,
  int8 where XNNPACK's quantized path is off) or ``ncnn``.
- Edge TPU: ``accelerator``, ``peak_tops_int8``, ``on_chip_parameter_cache_mb``, ``link`` (``usb2``, ``usb3``,
  ``pcie``, ``onboard``; else read from ``interface``), ``host`` (the CPU that feeds it: the CPU keys).
- GPU: ``peak_gflops_fp16``, ``peak_gflops_fp32``, ``memory_bandwidth_gbs``.
- Descriptive (shown, not used): ``soc``, ``cpu``, ``gpu``, ``memory``, ``simd``, ``precision``, ``interface``,
  ``tops_per_watt``, ``note``; ``latency_calibration``: what ``edgetl calibrate`` fitted, in profiles it wrote
  before the fit had its own file (the profile field ``latency_calibration`` names that file now).
"""
from __future__ import annotations

import difflib
from typing import Any

from .errors import ConfigError

KERNELS = {"xnnpack": "xnnpack", "tflite-legacy": "tflite-cpu", "ncnn": "ncnn"}  # -> the cost model's runtime
LINKS = ("usb2", "usb3", "pcie", "onboard")
CPU_KEYS = ("core", "cores", "clock_ghz", "peak_gflops_fp32", "int8_dot_product", "kernels")
KNOWN = CPU_KEYS + ("accelerator", "peak_tops_int8", "on_chip_parameter_cache_mb", "link", "host", "interface",
                    "peak_gflops_fp16", "memory_bandwidth_gbs", "soc", "cpu", "gpu", "memory", "simd", "precision",
                    "tops_per_watt", "note", "latency_calibration")
POSITIVE = ("cores", "clock_ghz", "peak_gflops_fp32", "peak_gflops_fp16", "peak_tops_int8",
            "on_chip_parameter_cache_mb", "memory_bandwidth_gbs")


def _unknown(keys: Any, known: tuple[str, ...], where: str) -> None:
    for k in keys:
        if not isinstance(k, str) or k not in known:
            close = difflib.get_close_matches(str(k), known, n=1)
            raise ConfigError(f"{where}: unknown hardware key {str(k)!r}." + (f" Did you mean {close[0]!r}?" if close
                              else "") + f" Known: {', '.join(sorted(known))}.")


def _numbers(hw: dict[str, Any], where: str) -> None:
    for k in POSITIVE:
        v = hw.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e7:
            raise ConfigError(f"{where}: hardware {k} must be a positive number; got {v!r}.")


def check_hardware(hw: Any, source: str) -> dict[str, Any]:
    """``hw`` checked: known keys only, positive numbers, a known ``kernels`` and ``link``; ``host`` likewise."""
    if hw is None:
        return {}
    if not isinstance(hw, dict):
        raise ConfigError(f"{source}: hardware must be a mapping (core: cortex-a72, cores: 4, clock_ghz: 1.5).")
    _unknown(hw, KNOWN, source)
    _numbers(hw, source)
    if hw.get("kernels") is not None and hw["kernels"] not in KERNELS:
        close = difflib.get_close_matches(str(hw["kernels"]), list(KERNELS), n=1)
        raise ConfigError(f"{source}: hardware kernels must be one of {', '.join(KERNELS)}; got {hw['kernels']!r}."
                          + (f" Did you mean {close[0]!r}?" if close else ""))
    if hw.get("link") is not None and hw["link"] not in LINKS:
        raise ConfigError(f"{source}: hardware link must be one of {', '.join(LINKS)} (how the Edge TPU is attached);"
                          f" got {hw['link']!r}.")
    host = hw.get("host")
    if host is not None:
        if not isinstance(host, dict):
            raise ConfigError(f"{source}: hardware host must be a mapping of CPU keys (core, cores, clock_ghz).")
        _unknown(host, CPU_KEYS, f"{source}: host")
        _numbers(host, f"{source}: host")
    return dict(hw)


def link_of(hw: dict[str, Any]) -> str:
    """How an Edge TPU is attached: ``link``, else read from the free-text ``interface`` (USB 3 when it only says
    USB, as Coral's USB Accelerator is specified; PCIe otherwise, as Coral's M.2 and Mini PCIe cards)."""
    if hw.get("link") in LINKS:
        return str(hw["link"])
    text = str(hw.get("interface", "")).lower().replace(" ", "").replace(".", "")
    if "usb2" in text.split("(")[0]:
        return "usb2"
    if "usb" in text:
        return "usb3"
    if "onboard" in text or "on-board" in text or "soc" in text:
        return "onboard"
    return "pcie"
