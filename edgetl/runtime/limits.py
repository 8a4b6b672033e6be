"""Limits on untrusted input: one place, each with an environment variable that raises it.

Every file edgetl reads may come from someone else (a model, an image, a contract, a YAML file). These
bounds keep a small crafted file from taking gigabytes of memory or minutes of time; the error that a
limit raises names the variable, so a user with a real, large input can raise it.

Stdlib only (and ``edgetl.errors``): ``edgetl.runtime`` can be copied into a device app without the rest of edgetl.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    default: int
    what: str

    @property
    def value(self) -> int:
        raw = os.environ.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        try:
            v = int(float(raw))
        except ValueError:
            return self.default
        return v if v > 0 else self.default

    def exceeded(self, got: int, subject: str) -> str:
        """One sentence: what was refused, the limit, and how to raise it."""
        return (f"{subject}: {self.what} is {got:,}, over edgetl's limit of {self.value:,} (refused to bound memory "
                f"and time; if the input is genuine, raise it with the environment variable {self.env}=N)")


MAX_IMAGE_PIXELS = Limit("image_pixels", "EDGETL_MAX_IMAGE_PIXELS", 50_000_000, "the image's pixel count")
MAX_MODEL_BYTES = Limit("model_bytes", "EDGETL_MAX_MODEL_BYTES", 2 << 30, "the model file's size in bytes")
MAX_INPUT_ELEMENTS = Limit("input_elements", "EDGETL_MAX_INPUT_ELEMENTS", 50_000_000,
                           "the number of values in the model's declared input")
MAX_ACTIVATION_BYTES = Limit("activation_bytes", "EDGETL_MAX_ACTIVATION_BYTES", 1 << 30,
                             "the memory its declared intermediate tensors need, in bytes")
MAX_CONFIG_BYTES = Limit("config_bytes", "EDGETL_MAX_CONFIG_BYTES", 1 << 20, "the file's size in bytes")
MAX_BENCH_BYTES = Limit("bench_bytes", "EDGETL_MAX_BENCH_BYTES", 64 << 20, "the bench file's size in bytes")
MAX_CONTRACT_BYTES = Limit("contract_bytes", "EDGETL_MAX_CONTRACT_BYTES", 64 << 20, "the contract's size in bytes")
MAX_ARCHIVE_MEMBER_BYTES = Limit("archive_member_bytes", "EDGETL_MAX_ARCHIVE_MEMBER_BYTES", 64 << 20,
                                 "an archive member's uncompressed size in bytes")
MAX_ARCHIVE_BYTES = Limit("archive_bytes", "EDGETL_MAX_ARCHIVE_BYTES", 4 << 30,
                          "the archive's total uncompressed size in bytes")
MAX_TEXT_FILE_BYTES = Limit("text_file_bytes", "EDGETL_MAX_TEXT_FILE_BYTES", 16 << 20, "the file's size in bytes")

ALL = (MAX_IMAGE_PIXELS, MAX_MODEL_BYTES, MAX_INPUT_ELEMENTS, MAX_ACTIVATION_BYTES, MAX_CONFIG_BYTES,
       MAX_CONTRACT_BYTES, MAX_ARCHIVE_MEMBER_BYTES, MAX_ARCHIVE_BYTES, MAX_TEXT_FILE_BYTES)


def read_bounded(path: str | os.PathLike[str], limit: Limit, subject: str | None = None,
                 error: type[Exception] | None = None) -> bytes:
    """Read a whole file, refusing one larger than ``limit`` before reading it.

    Raises ``error`` (default ModelFileError) with a sentence that names the file and the variable to raise.
    """
    from ..errors import ModelFileError

    err = error or ModelFileError
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit.value:
            raise err(limit.exceeded(size, subject or str(path)) + ".")
        data = f.read(limit.value + 1)
    if len(data) > limit.value:  # a file that grew, or a pipe that reports no size
        raise err(limit.exceeded(len(data), subject or str(path)) + ".")
    return data
