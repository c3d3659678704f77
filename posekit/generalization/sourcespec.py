"""What a pose source is and how one is named on the command line: :class:`PoseSource`, ``NAME=PATH`` /
``NAME=KIND:PATH[#CLIPS]`` specs (:func:`parse_source`) and the kind of a file or folder told from its contents
(:func:`detect_kind`). Reading a source is :mod:`posekit.generalization.sources`."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import scipy.io

__all__ = ["KINDS_3D", "SOURCE_KINDS", "PoseSource", "detect_kind", "parse_source"]

SOURCE_KINDS: tuple[str, ...] = ("coco", "posetrack18", "mpii", "lsp", "lspet", "results", "cmu", "h36m_npz")
"""The kinds of pose source (per-kind details in :mod:`posekit.generalization.sources`)."""
KINDS_3D: tuple[str, ...] = ("cmu", "h36m_npz")
"""The kinds that hold 3D poses."""
CMU_ARCHIVE = "cmu_asf_amc.tar.xz"
"""The file that marks a CMU mocap folder (beside ``cmu_bvh_walkcycles.tar.xz``)."""


@dataclass(frozen=True)
class PoseSource:
    """A dataset of the map: ``name`` (label, e.g. ``"COCO"``), ``kind`` (one of :data:`SOURCE_KINDS`), ``path``."""

    name: str
    kind: str
    path: Path
    clips: tuple[str, ...] = ()
    """3D sources only: keep the clips whose id starts with one of these prefixes (CMU ``"01_"``, H36M ``"S9/"``);
    a leading ``"!"`` on the first one keeps the others instead. Empty: every clip."""

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise ValueError(f"PoseSource name must not be empty (path {str(self.path)!r})")
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"PoseSource {self.name!r}: unknown kind {self.kind!r}; known: {', '.join(SOURCE_KINDS)}")
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "clips", tuple(str(c) for c in self.clips))
        if self.clips and self.kind not in KINDS_3D:
            raise ValueError(f"PoseSource {self.name!r}: a clip selection applies to 3D sources "
                             f"({', '.join(KINDS_3D)}), not {self.kind!r}")

    def keeps(self, clip_id: str) -> bool:
        """Whether the clip selection keeps ``clip_id``."""
        if not self.clips:
            return True
        exclude = self.clips[0].startswith("!")
        hit = any(clip_id.startswith(p.lstrip("!")) for p in self.clips)
        return hit != exclude


def parse_source(spec: str) -> PoseSource:
    """``"NAME=PATH"`` (kind from :func:`detect_kind`) or ``"NAME=KIND:PATH"`` -> :class:`PoseSource`; a 3D source
    may end in ``#PREFIX,PREFIX`` to keep only those clips (``#!PREFIX,...``: all but those; :attr:`PoseSource.clips`).

    Raises ``ValueError`` naming the spec (no ``=``, empty name or path, an unknown kind, a kind that cannot be
    detected) and ``FileNotFoundError`` naming the spec when the path does not exist.
    """
    spec_text, _, selection = str(spec).partition("#")
    clips = tuple(c.strip() for c in selection.split(",") if c.strip())
    name, sep, rest = spec_text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise ValueError(f"pose source {spec!r} must look like NAME=PATH or NAME=KIND:PATH "
                         f"(KIND one of {', '.join(SOURCE_KINDS)})")
    kind, colon, path = rest.partition(":")
    kind = kind.strip()
    if colon and kind.replace("_", "").isalnum():  # "KIND:PATH"; a path with a colon elsewhere keeps it
        if kind not in SOURCE_KINDS:
            raise ValueError(f"pose source {spec!r}: unknown kind {kind!r}; known: {', '.join(SOURCE_KINDS)}")
    else:
        kind, path = "", rest
    path = Path(path.strip()).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"pose source {spec!r}: {str(path)!r} does not exist")
    if not kind:
        try:
            kind = detect_kind(path)
        except ValueError as exc:
            raise ValueError(f"pose source {spec!r}: {exc}; name the kind as NAME=KIND:PATH") from exc
    return PoseSource(name, kind, path, clips)


def detect_kind(path: str | os.PathLike) -> str:
    """The :data:`SOURCE_KINDS` entry of a file or folder, from its contents (the name only for ``.h5``/``.csv``).

    Folders: ``joints.mat`` -> ``lsp`` / ``lspet`` (by the array's layout), ``cmu_asf_amc.tar.xz`` -> ``cmu``,
    ``*.json`` files -> ``posetrack18``. Files: ``.mat`` -> ``lsp`` / ``lspet``; ``.h5`` / ``.csv`` -> ``mpii``;
    ``.npz`` with a ``positions_3d`` member -> ``h36m_npz``; ``.jsonl`` -> ``results``; ``.json``: an object with
    ``annotations`` and ``categories`` -> ``posetrack18`` (PoseTrack keypoint names or video fields) or ``coco``, a
    list of results (``keypoints`` in every record) or a JSON-lines file -> ``results``.
    Raises ``FileNotFoundError`` / ``ValueError`` naming the path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"pose source path {str(path)!r} does not exist")
    if path.is_dir():
        if (path / "joints.mat").is_file():
            return _lsp_kind(path / "joints.mat")
        if (path / CMU_ARCHIVE).is_file():
            return "cmu"
        files = sorted(path.glob("*.json"))
        if files and _json_kind(files[0]) == "posetrack18":
            return "posetrack18"
        raise ValueError(f"cannot tell the pose source kind of folder {str(path)!r}: it holds no joints.mat, "
                         f"{CMU_ARCHIVE} or PoseTrack18 .json files (name a file for other kinds)")
    suffix = path.suffix.lower()
    if path.name == CMU_ARCHIVE:
        return "cmu"
    if suffix == ".mat":
        return _lsp_kind(path)
    if suffix in (".h5", ".csv"):
        return "mpii"
    if suffix == ".jsonl":
        return "results"
    if suffix == ".npz":
        try:
            with zipfile.ZipFile(path) as z:
                members = {Path(n).stem for n in z.namelist()}
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"cannot read {str(path)!r} as an .npz file: {exc}") from exc
        if "positions_3d" in members:
            return "h36m_npz"
        raise ValueError(f"{str(path)!r} has no positions_3d member (VideoPose3D 3D layout); it has {sorted(members)}")
    if suffix == ".json":
        return _json_kind(path)
    raise ValueError(f"cannot tell the pose source kind of {str(path)!r} (suffix {suffix!r}); known kinds: "
                     f"{', '.join(SOURCE_KINDS)}")


def _lsp_kind(path: Path) -> str:
    try:
        shapes = {name: shape for name, shape, _ in scipy.io.whosmat(str(path))}
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB file: {exc}") from exc
    shape = tuple(shapes.get("joints", ()))
    if len(shape) == 3 and shape[:2] == (3, 14):
        return "lsp"
    if len(shape) == 3 and shape[:2] == (14, 3):
        return "lspet"
    raise ValueError(f"{str(path)!r}: 'joints' has shape {shape or None}, neither LSP's (3, 14, N) nor LSPET's "
                     f"(14, 3, N)")


def _json_kind(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip().split("\n", 1)[0]
        try:
            line = json.loads(first) if first else None
        except json.JSONDecodeError:
            line = None
        if isinstance(line, dict) and "keypoints" in line and "frame" in line:
            return "results"  # JSON lines saved as .json
        raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "annotations" in data and "categories" in data:
        names = {n for c in data["categories"] if isinstance(c, dict) for n in (c.get("keypoints") or ())}
        images = data.get("images") or [{}]
        if "head_bottom" in names or (isinstance(images[0], dict) and "vid_id" in images[0]):
            return "posetrack18"
        return "coco"
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{str(path)!r} is an empty JSON list: no poses")
        if all(isinstance(r, dict) and "keypoints" in r for r in data):
            return "results"
        raise ValueError(f"{str(path)!r} is a JSON list whose records are not keypoint results (no 'keypoints')")
    if isinstance(data, dict) and "keypoints" in data and "frame" in data:
        return "results"
    have = sorted(data) if isinstance(data, dict) else type(data).__name__
    raise ValueError(f"cannot tell the pose source kind of {str(path)!r}: not COCO-format keypoint annotations "
                     f"(needs 'annotations' and 'categories'), results list or JSON lines; it has {have}")


# ------------------------------------------------------------------------------------------------------- loading
