"""Reading files with bounded memory: a size check before any byte is read.

Every file a user names (models, inputs, free sets, images, job files) is read through
:func:`read_bytes`: it must be a regular file (devices such as ``/dev/zero``, pipes and
sockets are refused before they are opened: opening a pipe would block) no larger than a
limit fixed by what the file holds, and at most ``limit + 1`` bytes are read (a file that
grows while read is refused too). Errors are one line naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import Bdd4bnnError, InputError

__all__ = ["read_bytes", "read_text", "MODEL_MAX", "JOB_MAX", "IMAGE_MAX", "per_value"]

MODEL_MAX = 512 << 20  # bytes of a JSON/CSV/ONNX model (10⁷ weights as JSON text: ~30 MB)
JOB_MAX = 16 << 20  # a job file
IMAGE_MAX = 64 << 20  # a raw image (.npy, .png, text)


def per_value(values: int, each: int = 32) -> int:
    """Return the byte limit of a text file of ``values`` numbers (``each`` bytes apiece,
    generous for separators and JSON, plus 64 KiB)."""
    return (64 << 10) + each * max(values, 0)


def read_bytes(
    path: str | Path, limit: int, what: str, error: type[Bdd4bnnError] = InputError
) -> bytes:
    """Return the bytes of the regular file ``path`` if it holds at most ``limit`` bytes."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such {what} file") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} file ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a folder, expected a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file (a device, pipe or socket), expected a {what} file")
    if st.st_size > limit:
        raise error(f"{p}: {what} file of {st.st_size} bytes is over the limit of {limit}")
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read {what} file ({exc.strerror})") from None
    if len(data) > limit:
        raise error(f"{p}: {what} file grew past the limit of {limit} bytes while read")
    return data


def read_text(
    path: str | Path, limit: int, what: str, error: type[Bdd4bnnError] = InputError
) -> str:
    """Return the UTF-8 text of ``path`` (see :func:`read_bytes`)."""
    data = read_bytes(path, limit, what, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text {what} file") from None
