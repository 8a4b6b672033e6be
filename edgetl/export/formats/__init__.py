"""One exporter module per format (named in ``edgetl.targets.FORMATS``), each with the same three functions:

- ``convert(inputs, target, config) -> (bytes, ops)``: the artifact's bytes and its op list;
- ``embed(data, contract) -> bytes``: the bytes with the contract embedded in the file's own metadata;
- ``probe(path, data)``: a runtime backend on the bytes (input/output shapes, dtypes, quantization).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ...targets import Target


def exporter(target: Target) -> ModuleType:
    return importlib.import_module(target.format.exporter)
