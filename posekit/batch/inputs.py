"""What ``posekit batch`` runs over (:func:`expand_inputs`): a folder, a glob, a manifest (text, CSV, Parquet) or a
COCO JSON, expanded to a sorted list of :class:`InputItem` (images and videos).

Paths in a manifest or a COCO file are relative to its folder (or to ``root``) unless absolute. A path that does
not exist is kept (the run reports it in its errors table); nothing is dropped silently. Duplicates (the same
absolute path) are kept once. The order is the sorted absolute path, so the same inputs always make the same
plan, whichever way they were listed.
"""

from __future__ import annotations

import csv
import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from posekit.io.image import IMAGE_SUFFIXES
from posekit.io.video import VIDEO_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "InputItem", "expand_inputs"]

MANIFEST_COLUMNS = ("path", "file", "file_name", "filename", "image", "video")
"""Column names a CSV/Parquet manifest's path column may have (else its first column)."""


@dataclass(frozen=True, order=True)
class InputItem:
    """One input: an absolute ``path`` and its ``kind`` (``"image"`` or ``"video"``, by suffix)."""

    path: str
    kind: str


def _kind(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def _listed(paths: list[str], base: Path, source: str) -> list[str]:
    out = []
    for i, p in enumerate(paths):
        p = p.strip()
        if not p:
            continue
        if _kind(p) is None:
            raise ValueError(f"{source}: entry {i + 1} ({p!r}) is not an image or a video (suffixes: "
                             f"{', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})")
        out.append(p if os.path.isabs(p) else str(base / p))
    return out


def _column(names: list[str], source: str) -> int:
    lower = [n.strip().lower() for n in names]
    for wanted in MANIFEST_COLUMNS:
        if wanted in lower:
            return lower.index(wanted)
    if not names:
        raise ValueError(f"{source}: the manifest has no columns")
    return 0


def _from_csv(path: Path, base: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    header = rows[0]
    has_header = _kind(header[0]) is None  # a first row that is a path is data, not a header
    col = _column(header, str(path)) if has_header else 0
    return _listed([r[col] for r in rows[1 if has_header else 0:] if len(r) > col], base, str(path))


def _from_parquet(path: Path, base: Path) -> list[str]:
    table = pq.read_table(path)
    col = table.column_names[_column(table.column_names, str(path))]
    return _listed([str(v) for v in table.column(col).to_pylist()], base, str(path))


def _from_coco(path: Path, base: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f"{path}: a COCO JSON needs an 'images' list (with 'file_name' entries)")
    names = []
    for i, image in enumerate(images):
        if not isinstance(image, dict) or not isinstance(image.get("file_name"), str):
            raise ValueError(f"{path}: images[{i}] has no 'file_name'")
        names.append(image["file_name"])
    return _listed(names, base, str(path))


def expand_inputs(spec: str | os.PathLike, *, root: str | os.PathLike | None = None) -> list[InputItem]:
    """The inputs of ``spec`` (see the module docstring).

    Args:
        spec: a folder (searched recursively for images and videos), a glob (``data/**/*.jpg``), a manifest
            (``.txt``: one path per line; ``.csv``: a ``path`` column or the first; ``.parquet``: likewise) or a
            COCO JSON (its ``images[].file_name``), or one image/video file.
        root: the folder relative paths of a manifest or COCO file are taken from (default: the file's folder).

    Raises:
        FileNotFoundError: ``spec`` names nothing (no file, folder or glob match).
        ValueError: a manifest entry that is not an image or a video, a malformed COCO file.
    """
    text = os.fspath(spec)
    path = Path(text)
    base = Path(root) if root is not None else path.parent
    if path.is_dir():
        paths = [str(p) for p in path.rglob("*") if p.is_file() and _kind(str(p)) is not None]
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".txt":
            paths = _listed(path.read_text(encoding="utf-8").splitlines(), base, text)
        elif suffix == ".csv":
            paths = _from_csv(path, base)
        elif suffix == ".parquet":
            paths = _from_parquet(path, base)
        elif suffix == ".json":
            paths = _from_coco(path, base)
        elif _kind(text) is not None:
            paths = [text]
        else:
            raise ValueError(f"{text}: not a folder, an image, a video or a manifest (.txt, .csv, .parquet, COCO "
                             ".json)")
    elif glob.has_magic(text):
        paths = [p for p in glob.glob(text, recursive=True) if os.path.isfile(p) and _kind(p) is not None]
        if not paths:
            raise FileNotFoundError(f"{text}: the pattern matches no image or video")
    else:
        raise FileNotFoundError(f"{text}: no such file, folder or pattern")
    unique = {os.path.abspath(p): None for p in paths}
    return sorted(InputItem(p, _kind(p) or "image") for p in unique)
