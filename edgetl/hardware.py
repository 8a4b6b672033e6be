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

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Hardware(Mapping[str, Any]):
    """A profile's ``hardware:`` block, typed: the CPU, the Edge TPU and the GPU facts the estimator reads, and the
    descriptive ones it shows. Built only through :meth:`from_dict` (unknown keys refused with "Did you mean",
    numbers checked); it reads like the mapping it came from (``hw.get("core")``, ``dict(hw)``) for the cost model,
    which takes anchors' facts as plain dicts too.
    """

    # CPU (also the Edge TPU's host)
    core: str | None = None
    cores: int | None = None
    clock_ghz: float | None = None
    peak_gflops_fp32: float | None = None  # a CPU's (or a GPU's) float32 peak
    int8_dot_product: bool | None = None
    kernels: str | None = None
    # Edge TPU
    accelerator: str | None = None
    peak_tops_int8: float | None = None
    on_chip_parameter_cache_mb: float | None = None
    link: str | None = None
    host: "Hardware | None" = None
    # GPU
    peak_gflops_fp16: float | None = None
    memory_bandwidth_gbs: float | None = None
    # descriptive (shown, not used)
    interface: str | None = None
    soc: str | None = None
    cpu: str | None = None
    gpu: str | None = None
    memory: str | None = None
    simd: str | None = None
    precision: str | None = None
    tops_per_watt: float | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, hw: Any, source: str) -> "Hardware":
        """The block checked (:func:`check_hardware`) and typed; ``latency_calibration`` is not hardware (the
        profile field of that name reads it)."""
        d = {k: v for k, v in check_hardware(hw, source).items() if k != "latency_calibration"}
        if isinstance(d.get("host"), dict):
            d["host"] = cls.from_dict(d["host"], f"{source}: host")
        for k in ("core", "accelerator", "link", "kernels", "interface", "soc", "cpu", "gpu", "memory", "simd",
                  "precision", "note"):
            if d.get(k) is not None:
                d[k] = str(d[k])
        if d.get("int8_dot_product") is not None and not isinstance(d["int8_dot_product"], bool):
            raise ConfigError(f"{source}: hardware int8_dot_product must be true or false; got "
                              f"{d['int8_dot_product']!r}.")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """The keys that are set, as the YAML said them (``host`` a mapping too)."""
        return {k: (v.to_dict() if isinstance(v, Hardware) else v) for k, v in self._items()}

    def _items(self) -> Iterator[tuple[str, Any]]:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is not None:
                yield f.name, v

    def __getitem__(self, key: str) -> Any:
        v = getattr(self, key, None) if key in _FIELDS else None
        if v is None:
            raise KeyError(key)
        return v.to_dict() if isinstance(v, Hardware) else v

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items())

    def __len__(self) -> int:
        return sum(1 for _ in self._items())


_FIELDS = frozenset(f.name for f in dataclasses.fields(Hardware))
assert _FIELDS == set(KNOWN) - {"latency_calibration"}, "Hardware's fields and KNOWN must name the same keys"
