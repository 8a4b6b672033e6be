"""edgetl.runtime: load an exported model with its contract and classify images.

Needs only numpy, Pillow and ai-edge-litert (or tflite-runtime, or onnxruntime). Never TensorFlow.
This package may be vendored into a device app together with ``edgetl/errors.py``.
"""
from __future__ import annotations

from .classify import Classifier as Classifier
from .classify import Prediction as Prediction
from .contract import Contract as Contract
from .text import TextClassifier as TextClassifier
from .tokenizer import WordPieceTokenizer as WordPieceTokenizer
