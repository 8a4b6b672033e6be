"""The edgetl exception hierarchy: every error says what failed, what was received and what to do."""
from __future__ import annotations


class EdgetlError(Exception):
    """Base class; the CLI turns it into exit code 1."""

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


class ConfigError(EdgetlError, ValueError):
    """A bad config, profile, option or name; the CLI exits with code 2."""


class DataError(EdgetlError):
    """The dataset cannot be used as given (no images, one class, an empty class folder, bad files)."""


class MissingDependencyError(EdgetlError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""


class WeightsError(EdgetlError):
    """Pretrained weights could not be found, downloaded or loaded."""


class ConversionError(EdgetlError):
    """A converter failed; ``details`` keeps the tail of the tool's output."""


class VerificationError(EdgetlError):
    """An exported artifact does not behave like the model it came from."""


class RuntimeBackendError(EdgetlError):
    """The inference runtime cannot load or run a model."""


class DeviceUnavailableError(EdgetlError):
    """A device in a profile cannot be reached or lacks what the profile needs."""


class EdgetlWarning(UserWarning):
    """Warnings edgetl itself raises (tests turn them into errors)."""
