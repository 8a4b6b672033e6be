"""edgetl: transfer learning, quantization, conversion and benchmarks for edge image classifiers.

The Python API lives in ``edgetl.api`` (``train``, ``export``): ``edgetl.train`` and ``edgetl.export``
are the sub-packages that implement them, so the functions are not re-exported here.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import ExportConfig as ExportConfig
from .config import Strategy as Strategy
from .config import TrainConfig as TrainConfig
from .errors import ConfigError as ConfigError
from .errors import EdgetlError as EdgetlError
