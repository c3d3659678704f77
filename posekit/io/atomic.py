"""Atomic file writes: a file appears at its destination complete or not at all.

Everything posekit writes (results, drawings, videos, caches, checkpoints, exports) goes to a hidden temporary
file in the destination's folder and is renamed onto the destination (``os.replace``, atomic on POSIX and
Windows) only when writing finished. A crash or an exception leaves the destination as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def reserve_temp_path(path: str | os.PathLike[str]) -> Path:
    """Create an empty, uniquely named hidden file next to ``path`` (same suffix, so tools that choose the
    format by suffix still work) and return its path. The parent folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.parent / f".posekit-tmp-{secrets.token_hex(6)}{path.suffix}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a temporary file next to {path}")


@contextlib.contextmanager
def atomic_destination(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on an exception delete it.

    The temporary file is created empty with the usual permissions (0o666 minus the umask)."""
    path = Path(path)
    tmp = reserve_temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Binary file handle whose content appears at ``path`` only if the ``with`` block finishes (flushed and
    fsynced before the rename)."""
    with atomic_destination(path) as tmp, open(tmp, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
