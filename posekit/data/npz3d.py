"""3D / 2D keypoint sequences in VideoPose3D's ``.npz`` layout -> :class:`PoseSequence` list + report.

VideoPose3D (and most lifting code after it) stores Human3.6M-style data as two files:

* ``data_3d_<set>.npz``: ``positions_3d`` = ``{subject: {action: (T, J, 3) float32}}`` -- world coordinates in
  metres (Human3.6M: 32 joints, of which VideoPose3D keeps 17).
* ``data_2d_<set>_<detector>.npz``: ``positions_2d`` = ``{subject: {action: [(T, J, 2) per camera]}}`` -- image
  pixels (frame of :mod:`posekit.types`), and ``metadata`` = ``{"layout_name": "h36m" | "coco" | ...,
  "num_joints": J, "keypoints_symmetry": [left indices, right indices], ...}``.

Both members are NumPy object arrays, i.e. pickles. They are read with a restricted unpickler that rebuilds only
NumPy arrays, dtypes, scalars and plain Python containers (like ``torch.load(weights_only=True)``); any other
object in the file raises ``ValueError`` instead of running code.

Skeletons: 32 joints with ``joints17=True`` (default) are cut to VideoPose3D's 17 (it drops the 15 static joints
4, 5, 9, 10, 11, 16, 20-24, 28-31), giving ``h36m17``; 17 joints are ``h36m17`` unless the metadata's
``layout_name`` is ``"coco"`` (detector 2D keypoints, ``coco17``); any other J gets a generic skeleton
``joints{J}`` (names ``kpt_{i}``, no links).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from posekit.data.sample import LoadReport, _Collector, _readonly
from posekit.skeletons import Skeleton, coco17, h36m17

__all__ = ["H36M32_TO_17", "PoseSequence", "load_npz3d"]

H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 17 Human3.6M joints VideoPose3D keeps out of the 32 (in ``h36m17`` order)."""

_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"), ("numpy", "ndarray"),
    ("numpy", "dtype"), ("numpy._core.numeric", "_frombuffer"), ("builtins", "slice"), ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
}


@dataclass(frozen=True, eq=False)
class PoseSequence:
    """One keypoint sequence: a subject performing an action, seen by one camera (2D) or in the world (3D).

    Attributes:
        subject: e.g. ``"S1"``.
        action: e.g. ``"Walking 1"``.
        camera: camera index for 2D sequences, ``None`` for 3D.
        keypoints: (T, J, C) float32: C = 3 world metres for ``positions_3d``; C = 2 image pixels (x right,
            y down) for ``positions_2d`` (C > 2 keeps any extra channel the file has, e.g. a confidence).
        skeleton: the joint layout (``skeleton.num_keypoints == J``).
        meta: read-only extras (``layout_name``, ``keypoints_symmetry`` from the 2D metadata, ``source_joints``).
    """

    subject: str
    action: str
    camera: int | None
    keypoints: np.ndarray
    skeleton: Skeleton
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kpts = np.array(self.keypoints, dtype=np.float32, copy=True)
        j = self.skeleton.num_keypoints
        if kpts.ndim != 3 or kpts.shape[1] != j or kpts.shape[2] < 2:
            raise ValueError(f"keypoints must have shape (T, {j}, C >= 2) for skeleton {self.skeleton.name!r}, "
                             f"got {kpts.shape}")
        kpts.setflags(write=False)
        object.__setattr__(self, "keypoints", kpts)
        object.__setattr__(self, "meta", MappingProxyType({str(k): _readonly(v) for k, v in self.meta.items()}))

    def __len__(self) -> int:
        return len(self.keypoints)


def load_npz3d(path: str | os.PathLike, *, joints17: bool = True) -> tuple[list[PoseSequence], LoadReport]:
    """Load a VideoPose3D-layout ``.npz`` (``positions_3d`` or ``positions_2d`` + ``metadata``).

    Args:
        path: the ``.npz`` file.
        joints17: cut 32-joint Human3.6M data to VideoPose3D's 17 joints (module docstring).

    Returns:
        ``(sequences, report)`` sorted by subject, action and camera. A subject that is not a dict, a sequence that
        is not a (T, J, C) array, or one whose J differs from the file's (``bad_shape``) is reported and skipped;
        records are indexed ``"subject/action"`` or ``"subject/action/camera"``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ``.npz``, neither ``positions_3d`` nor ``positions_2d`` in it (the message says when the
            file looks like MMPose's per-image layout instead), or a member holding objects other than arrays,
            dicts, lists and numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint .npz file not found: {str(path)!r}")
    members = _read_npz(path)
    if "positions_3d" in members:
        key, is_3d = "positions_3d", True
    elif "positions_2d" in members:
        key, is_3d = "positions_2d", False
    else:
        hint = ("; it looks like MMPose's per-image layout (imgname, part, S), which load_npz3d does not read"
                if {"imgname", "S"} <= set(members) else "")
        raise ValueError(f"{str(path)!r} holds neither 'positions_3d' nor 'positions_2d' (VideoPose3D layout); "
                         f"it has {sorted(members)}{hint}")
    data = _unwrap(members[key])
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{str(path)!r}: {key!r} must hold a dict {{subject: {{action: ...}}}}, got {type(data).__name__}"
        )
    metadata = _unwrap(members["metadata"]) if "metadata" in members else {}
    metadata = metadata if isinstance(metadata, Mapping) else {}

    log = _Collector()
    found: list[tuple[str, str, int | None, np.ndarray]] = []
    num_records = 0
    for subject in sorted(data, key=str):
        actions = data[subject]
        if not isinstance(actions, Mapping):
            num_records += 1
            log.skip(str(subject), "bad_value",
                     f"subject {subject!r} must map actions to arrays, got {type(actions).__name__}")
            continue
        for action in sorted(actions, key=str):
            value = actions[action]
            if is_3d:
                views = [(None, value)]
            else:
                views = list(enumerate(value if isinstance(value, (list, tuple)) else [value]))
            for camera, arr in views:
                num_records += 1
                where = f"{subject}/{action}" + ("" if camera is None else f"/{camera}")
                if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
                    log.skip(where, "bad_value", f"{where} must be a numeric array, got {type(arr).__name__}")
                    continue
                want = 3 if is_3d else None
                if arr.ndim != 3 or arr.shape[2] < 2 or (want and arr.shape[2] != want):
                    log.skip(where, "bad_shape", f"{where} must have shape (T, J, {want or 'C >= 2'}), got {arr.shape}")
                    continue
                found.append((str(subject), str(action), camera, arr))

    sequences = []
    if found:
        j = Counter(arr.shape[1] for *_, arr in found).most_common(1)[0][0]
        skeleton, select = _skeleton(j, str(metadata.get("layout_name", "")), joints17)
        meta = {"source_joints": j}
        for k in ("layout_name", "keypoints_symmetry"):
            if k in metadata:
                meta[k] = metadata[k]
        if select is not None:
            log.notes.append(f"{j} joints cut to VideoPose3D's 17 (H36M32_TO_17)")
        for subject, action, camera, arr in found:
            where = f"{subject}/{action}" + ("" if camera is None else f"/{camera}")
            if arr.shape[1] != j:
                log.skip(where, "bad_shape", f"{where} has {arr.shape[1]} joints, the file's sequences have {j}")
                continue
            kpts = arr if select is None else arr[:, select]
            sequences.append(PoseSequence(subject, action, camera, kpts, skeleton, meta))
    return sequences, log.report(path, num_records, len(sequences))


def _skeleton(j: int, layout: str, joints17: bool) -> tuple[Skeleton, tuple[int, ...] | None]:
    if j == 32 and joints17:
        return h36m17, H36M32_TO_17
    if j == 17:
        return (coco17 if layout.lower() == "coco" else h36m17), None
    return Skeleton(f"joints{j}", tuple(f"kpt_{i}" for i in range(j)), ()), None


def _unwrap(value: Any) -> Any:
    """The Python object inside a 0-d object array (``np.savez(x=dict)``), else the value."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        return value.item()
    return value


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds NumPy arrays / dtypes / scalars and builtin containers, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        canonical = module.replace("numpy.core", "numpy._core", 1) if module.startswith("numpy.core") else module
        if (canonical, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays and plain data are read")
        return super().find_class(canonical, name)


def _read_npz(path: Path) -> dict[str, Any]:
    """Every member of an ``.npz``; object members through :class:`_ArraysOnlyUnpickler`."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{str(path)!r} is not an .npz (zip) file: {exc}") from exc
    out = {}
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as fp:
                try:
                    version = np.lib.format.read_magic(fp)
                    if version == (1, 0):
                        _, _, dtype = np.lib.format.read_array_header_1_0(fp)
                    else:
                        _, _, dtype = np.lib.format.read_array_header_2_0(fp)
                    if dtype.hasobject:
                        out[member[:-4]] = _ArraysOnlyUnpickler(fp, encoding="latin1").load()
                    else:
                        with archive.open(member) as again:
                            out[member[:-4]] = np.lib.format.read_array(again, allow_pickle=False)
                except (ValueError, pickle.UnpicklingError, EOFError) as exc:
                    raise ValueError(f"{str(path)!r}: cannot read member {member!r}: {exc}") from exc
    return out
