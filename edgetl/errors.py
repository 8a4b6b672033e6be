"""The edgetl exception hierarchy: every error says what failed, what was received and what to do.

Each class has a ``kind``: code that must react to an error (the bench runner, a worker process that
reports over a pipe) dispatches on the kind, never on the wording of the message.
"""
from __future__ import annotations

from typing import ClassVar


class EdgetlError(Exception):
    """Base class; the CLI turns it into exit code 1."""

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


class ConfigError(EdgetlError, ValueError):
    """A bad config, profile, option or name; the CLI exits with code 2."""

    kind = "config"


class DataError(EdgetlError):
    """The dataset cannot be used as given (no images, one class, an empty class folder, bad files)."""

    kind = "data"


class MissingDependencyError(EdgetlError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""

    kind = "missing_dependency"


class WeightsError(EdgetlError):
    """Pretrained weights could not be found, downloaded or loaded."""

    kind = "weights"


class WeightsOfflineError(WeightsError):
    """Pretrained weights must be downloaded, and this machine cannot reach the download."""

    kind = "weights_offline"


class ConversionError(EdgetlError):
    """A converter failed; ``details`` keeps the tail of the tool's output."""

    kind = "conversion"


class RuntimeBackendError(EdgetlError):
    """The inference runtime cannot load or run a model."""

    kind = "runtime"


class ModelFileError(RuntimeBackendError):
    """A model file (or its contract) is malformed, unsafe or over a limit; nothing was run."""

    kind = "model_file"


class NoContractError(RuntimeBackendError):
    """A model file has no edgetl contract and the options that replace it (mean, std) were not given."""

    kind = "no_contract"


class ProviderUnavailableError(RuntimeBackendError):
    """The execution provider (CUDA, TensorRT) a profile asks for is not installed here."""

    kind = "provider_unavailable"


class ProviderFellBackError(RuntimeBackendError):
    """The provider is installed but failed to load, and ONNX Runtime went on without it: never a result."""

    kind = "provider_fell_back"


class DeviceUnavailableError(EdgetlError):
    """A device in a profile cannot be reached or lacks what the profile needs."""

    kind = "device_unavailable"


class ClusterError(EdgetlError):
    """A Ray cluster cannot be reached, has no room for a worker, or its workers differ from this machine."""

    kind = "cluster"


class DiskFullError(EdgetlError):
    """The disk filled up (ENOSPC) while edgetl wrote; the message names the folder and the space to free."""

    kind = "disk_full"


KINDS: dict[str, type[EdgetlError]] = {c.kind: c for c in (
    EdgetlError, ConfigError, DataError, MissingDependencyError, WeightsError, WeightsOfflineError, ConversionError,
    RuntimeBackendError, ModelFileError, NoContractError, ProviderUnavailableError,
    ProviderFellBackError, DeviceUnavailableError, ClusterError, DiskFullError)}


def from_kind(kind: str, message: str) -> EdgetlError:
    """Rebuild an error reported by another process (a bench worker) from its kind and message."""
    return KINDS.get(kind, EdgetlError)(message)
