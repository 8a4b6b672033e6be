"""edgetl: transfer learning, quantization, conversion and benchmarks for edge image classifiers."""
from __future__ import annotations

__version__ = "0.1.0"

from .api import train as train
from .config import ExportConfig as ExportConfig
from .config import Strategy as Strategy
from .config import TrainConfig as TrainConfig
from .errors import ConfigError as ConfigError
from .errors import EdgetlError as EdgetlError
