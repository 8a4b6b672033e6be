"""One exporter module per format (named in ``edgetl.targets.FORMATS``), each with the same three functions:

- ``convert(inputs, target, config) -> (bytes, ops)``: the artifact's bytes and its op list;
- ``embed(data, contract) -> bytes``: the bytes with the contract embedded in the file's own metadata;
- ``probe(path, data)``: a runtime backend on the bytes (input/output shapes, dtypes, quantization).

Formats with calibrated (int8) targets also give what selective quantization needs:

- ``sensitivity(inputs, target, config, pixels)``: per-layer error rows, worst first (``layer`` key);
- ``with_float_layers(inputs, target, config, layers, pixels)``: the int8 bytes with those layers in float;
- ``range_audit(inputs, data, calib, held, total)``: clip shares of the calibrated ranges on held-back inputs;
- ``calibration_variants(inputs, target, config)``: [(name, bytes)] of calibrations that cost no speed;
- ``float_bytes(inputs, config)``: the float model, for the latency limit;
- ``rounds_weights(inputs, config)``: whether its int8 weights get activation-aware rounding.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ...targets import Target


def exporter(target: Target) -> ModuleType:
    return importlib.import_module(target.format.exporter)
