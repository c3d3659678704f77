"""Safe extraction of selected members of a (compressed) tar archive, e.g. the CMU mocap ``.tar.xz`` files.

The archives in ``../shared/data/mocap/cmu/`` are read-only inputs; tests and training unpack only the members
they need into a scratch folder with :func:`extract_members`.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

__all__ = ["extract_members", "list_members"]

_GLOB_CHARS = frozenset("*?[")


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or "\\" in name or ":" in name:
        raise ValueError(f"unsafe member path {name!r} in archive {archive} (absolute or leaving the destination)")
    return path


def list_members(archive: str | os.PathLike) -> list[str]:
    """Names of the regular files in ``archive`` (POSIX paths, archive order)."""
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    with tarfile.open(archive, mode="r|*") as tar:
        return [m.name for m in tar if m.isfile()]


def extract_members(
    archive: str | os.PathLike, patterns: str | Iterable[str], dest: str | os.PathLike
) -> list[Path]:
    """Extract the regular files of ``archive`` whose names match any of ``patterns`` into ``dest``.

    Args:
        archive: a tar file, optionally gzip/bz2/xz compressed (read as a stream, once).
        patterns: shell-style globs (:mod:`fnmatch`, ``*`` also crosses ``/``) matched against the full member
            names, e.g. ``"asf_amc/subjects/02/02_0[13].amc"`` or ``"bvh_walkcycles/*.bvh"``.
        dest: destination folder (created if needed); members keep their relative paths below it.

    Returns:
        The extracted file paths, in archive order.

    Raises:
        ValueError: a matching member has an absolute path or ``..`` component, or is a link/device (never
            extracted), or ``patterns`` is empty.
        FileNotFoundError: the archive is missing, or a pattern matched no regular file.

    The stream stops early once every pattern without glob characters has been found (and there are no globs),
    so asking for members near the start of a large ``.xz`` archive does not decompress all of it.
    """
    archive = Path(archive)
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = list(patterns)
    if not patterns:
        raise ValueError("patterns must name at least one member (glob), got none")
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    literal = {p for p in patterns if not (_GLOB_CHARS & set(p))}
    only_literal = len(literal) == len(patterns)
    hits = dict.fromkeys(patterns, 0)
    out: list[Path] = []
    with tarfile.open(archive, mode="r|*") as tar:
        for member in tar:
            matched = [p for p in patterns if fnmatch.fnmatchcase(member.name, p)]
            if not matched:
                continue
            if member.isdir():
                continue
            if not member.isfile():
                raise ValueError(f"member {member.name!r} of {archive} is a link or special file; refusing it")
            rel = _safe_relative(member.name, archive)
            target = (root / rel).resolve()
            if root not in target.parents:
                raise ValueError(f"member {member.name!r} of {archive} would leave the destination {dest}")
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            if src is None:  # pragma: no cover - isfile() members always have data
                raise ValueError(f"member {member.name!r} of {archive} has no data")
            with src, open(target, "wb") as fh:
                shutil.copyfileobj(src, fh)
            out.append(target)
            for p in matched:
                hits[p] += 1
            if only_literal and all(hits[p] for p in literal):
                break
    missing = [p for p, n in hits.items() if n == 0]
    if missing:
        raise FileNotFoundError(f"no regular file in {archive} matches {missing}")
    return out
