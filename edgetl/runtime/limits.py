"""Limits on untrusted input: one place, each with an environment variable that raises it.

Every file edgetl reads may come from someone else (a model, an image, a contract, a YAML file). These
bounds keep a small crafted file from taking gigabytes of memory or minutes of time; the error that a
limit raises names the variable, so a user with a real, large input can raise it.

Stdlib only (and ``edgetl.errors``): ``edgetl.runtime`` can be copied into a device app without the rest of edgetl.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO


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
MAX_IMAGE_FILE_BYTES = Limit("image_file_bytes", "EDGETL_MAX_IMAGE_FILE_BYTES", 256 << 20,
                             "the image file's size in bytes")
MAX_TEXT_DATA_BYTES = Limit("text_data_bytes", "EDGETL_MAX_TEXT_DATA_BYTES", 128 << 20,
                            "the text data file's size in bytes")

ALL = (MAX_IMAGE_PIXELS, MAX_MODEL_BYTES, MAX_INPUT_ELEMENTS, MAX_ACTIVATION_BYTES, MAX_CONFIG_BYTES,
       MAX_CONTRACT_BYTES, MAX_ARCHIVE_MEMBER_BYTES, MAX_ARCHIVE_BYTES, MAX_TEXT_FILE_BYTES, MAX_BENCH_BYTES,
       MAX_IMAGE_FILE_BYTES, MAX_TEXT_DATA_BYTES)


def open_regular(path: str | os.PathLike[str], subject: str | None = None,
                 error: type[Exception] | None = None) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file; a FIFO, a device or a folder is refused at once.

    A FIFO named ``photo.jpg`` would block a plain ``open()`` until something writes to it, and a device file
    (``/dev/zero``) never ends: the file is opened without blocking, checked with ``fstat`` on the open
    descriptor (no race with a rename), and only then read normally.

    Raises ``error`` (default ModelFileError) with one sentence naming the file, or OSError when it is missing.
    """
    import stat

    from ..errors import ModelFileError

    err = error or ModelFileError
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise err(f"{subject or str(path)}: is {kind}, not a regular file; edgetl reads only regular files "
                      "(a pipe or device could block or never end). Pass the file itself.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | os.PathLike[str], limit: Limit, subject: str | None = None,
                 error: type[Exception] | None = None) -> bytes:
    """Read a whole file, refusing one larger than ``limit`` before reading it.

    Raises ``error`` (default ModelFileError) with a sentence that names the file and the variable to raise.
    """
    from ..errors import ModelFileError

    err = error or ModelFileError
    with open_regular(path, subject, err) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit.value:
            raise err(limit.exceeded(size, subject or str(path)) + ".")
        data = f.read(limit.value + 1)
    if len(data) > limit.value:  # a file that grew, or a pipe that reports no size
        raise err(limit.exceeded(len(data), subject or str(path)) + ".")
    return data
