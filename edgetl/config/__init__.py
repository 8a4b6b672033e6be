"""Typed, frozen configs for each stage (TrainConfig, ExportConfig, BenchConfig, PipelineConfig).

Configs hold plain types only (no TensorFlow types), check cross-field rules in ``__post_init__``,
reject unknown keys with a "did you mean" hint, and round-trip through ``to_dict``/``from_dict``. One module
per owner: ``base`` (coercion, YAML, ``--set``), ``train``, ``export``, ``bench``, ``pipeline``.
"""
from __future__ import annotations

from .base import ConfigBase, apply_overrides, load_yaml
from .bench import BenchConfig
from .export import EXPORT_TARGETS, ExportConfig
from .pipeline import PIPELINE_SECTIONS, PipelineConfig
from .train import AUGMENTATIONS, MAX_SAFE_FINE_TUNE_LR, Strategy, TrainConfig

__all__ = ["AUGMENTATIONS", "EXPORT_TARGETS", "MAX_SAFE_FINE_TUNE_LR", "PIPELINE_SECTIONS", "BenchConfig", "ConfigBase",
           "ExportConfig", "PipelineConfig", "Strategy", "TrainConfig", "apply_overrides", "load_yaml"]
