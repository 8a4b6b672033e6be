"""The bench stage's config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from .base import ConfigBase


@dataclass(frozen=True, kw_only=True)
class BenchConfig(ConfigBase):
    """The benchmark step of a pipeline (and the options of ``edgetl bench``).

    Attributes:
        devices: Device profiles: built-in names (``edgetl devices list``) or paths of your own .yaml files.
        threads: Thread counts for the devices edgetl measures (empty: each profile's own list). Boards that
            cannot be reached keep their profile's threads for their estimates; Edge TPU boards run one thread.
        max_images: Cap on the accuracy images (0: the whole validation split).
        remeasure: Measure again even if a finished benchmark of the same artifacts and devices exists.
    """

    section: ClassVar[str] = "bench"

    devices: tuple[str, ...] = ("host-cpu",)
    threads: tuple[int, ...] = ()
    max_images: int = 0
    remeasure: bool = field(default=False, metadata={"cache": False})

    def __post_init__(self) -> None:
        self._coerce_fields()
        if not self.devices:
            raise ConfigError("bench.devices is empty: name at least one profile, e.g. host-cpu.")
        if any(t < 1 or t > 256 for t in self.threads):
            raise ConfigError(f"bench.threads must be between 1 and 256; got {list(self.threads)}.")
        if self.max_images < 0:
            raise ConfigError(f"bench.max_images must not be negative; got {self.max_images}.")

    def profiles(self) -> list[Any]:
        """Load and validate every device profile (fast: no model, no TensorFlow)."""
        from ..devices import load_profile

        return [load_profile(d) for d in self.devices]
