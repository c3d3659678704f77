"""Human3.6M-style 3D data in VideoPose3D's public ``.npz`` layout -> typed, per-camera sequences in ``h36m17``.

posekit ships no Human3.6M data (its licence forbids redistribution); these loaders read the files a user prepared
with VideoPose3D's ``data/prepare_data_h36m.py`` (or downloaded with its instructions):

* ``data_3d_h36m.npz``: ``positions_3d`` = ``{subject: {action: (T, 32, 3) float32}}``, world coordinates in
  **metres** (H36M's world: Z up, floor at z = 0), 50 fps. VideoPose3D keeps 17 of the 32 joints
  (``remove_joints([4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31])``, i.e. the joints
  :data:`~posekit.data.npz3d.H36M32_TO_17` = 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27 in that
  order); 17-joint files are taken as already cut.
* ``data_2d_h36m_gt.npz`` / ``data_2d_h36m_cpn_ft_h36m_dbb.npz``: ``positions_2d`` = ``{subject: {action: [(T, 17, 2)
  float32 per camera]}}`` image pixels, the 4 cameras in the order of
  :data:`~posekit.threed.camera_io.H36M_CAMERA_IDS`; ``metadata`` = ``{"num_joints": 17, "keypoints_symmetry":
  [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]], "layout_name": "h36m"}`` (the GT file written by
  ``prepare_data_h36m.py`` has no ``layout_name``). A 2D sequence may be longer than its 3D one (some H36M videos
  have extra frames): it is cut to the 3D length, as VideoPose3D's ``run.py`` does; a shorter one is an error.

Joint order: VideoPose3D's 17 joints (Hip, RHip, RKnee, RFoot, LHip, LKnee, LFoot, Spine, Thorax, Neck/Nose, Head,
LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist in Martinez' ``H36M_NAMES`` spelling) are ``h36m17``'s order
index for index (``root`` ... ``right_wrist``; posekit calls joint 9, H36M's ``Neck/Nose``, ``neck_base``), and the
file's ``keypoints_symmetry`` equals ``h36m17.flip_pairs``; a file whose metadata says otherwise is refused.

Reading: both members are pickled object arrays. They are read by :mod:`posekit.data.npz3d`'s restricted unpickler,
which rebuilds only NumPy arrays / dtypes / scalars and plain containers (dict, list, str, numbers) and refuses any
other class (never ``allow_pickle=True``).

Units and frames of the results: millimetres; ``joints_world`` in H36M's world (Z up); ``joints_camera`` in the
OpenCV camera frame of :class:`~posekit.threed.cameras.Camera` (``X_cam = R X_world + t``); pixels x right, y down.
Standard protocol splits: :data:`H36M_TRAIN_SUBJECTS` (S1, S5, S6, S7, S8), :data:`H36M_TEST_SUBJECTS` (S9, S11).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from posekit.data.npz3d import H36M32_TO_17, _read_npz, _unwrap
from posekit.threed.camera_io import H36M_CAMERA_IDS, subject_cameras
from posekit.threed.cameras import Camera

__all__ = [
    "H36M_FPS",
    "H36M_TEST_SUBJECTS",
    "H36M_TO_Y_UP",
    "H36M_TRAIN_SUBJECTS",
    "H36MData",
    "H36MSequence",
    "action_group",
    "h36m_sequences",
    "h36m_training_cameras",
    "h36m_training_clips",
    "load_h36m",
    "load_h36m_2d",
    "load_h36m_3d",
]

H36M_TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
H36M_FPS = 50.0
H36M_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""Rotation taking H36M's Z-up world to the Y-up world of posekit's mocap training data: ``(x, y, z) -> (x, z, -y)``."""
VIDEOPOSE3D_SYMMETRY = ((4, 5, 6, 11, 12, 13), (1, 2, 3, 14, 15, 16))
"""VideoPose3D's ``keypoints_symmetry`` (left joints, right joints) of its 17-joint H36M skeleton."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class H36MData:
    """A loaded ``data_3d_h36m.npz`` (+ optionally a 2D file).

    Attributes:
        positions_3d: ``{subject: {action: (T, 17, 3) float64}}`` h36m17 joints, world millimetres (Z up).
        positions_2d: ``{subject: {action: ((T2, 17, 2) float64 per camera, ...)}}`` pixels, or ``None``.
        metadata: the 2D file's ``metadata`` (empty without one).
        source: the files read.
    """

    positions_3d: Mapping[str, Mapping[str, np.ndarray]]
    positions_2d: Mapping[str, Mapping[str, tuple[np.ndarray, ...]]] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(sorted(self.positions_3d, key=_subject_key))

    def actions(self, subject: str) -> tuple[str, ...]:
        _check_subjects([subject], self.positions_3d, self.source)
        return tuple(sorted(self.positions_3d[subject]))


@dataclass(frozen=True, eq=False)
class H36MSequence:
    """One (subject, action, camera) sequence.

    Attributes:
        subject, action: e.g. ``"S9"``, ``"Walking 1"``; ``camera_index`` 0..3, ``camera_id`` e.g. ``"54138969"``.
        camera: the :class:`Camera` (world mm -> pixels).
        joints_world: (T, 17, 3) float64 h36m17 world mm; ``joints_camera`` the same in the camera frame.
        keypoints2d: (T, 17, 2) float64 pixels from the 2D file (cut to T frames), or ``None`` without one.
    """

    subject: str
    action: str
    camera_index: int
    camera_id: str
    camera: Camera
    joints_world: np.ndarray
    joints_camera: np.ndarray
    keypoints2d: np.ndarray | None

    @property
    def action_group(self) -> str:
        return action_group(self.action)

    def __len__(self) -> int:
        return len(self.joints_world)


def action_group(action: str) -> str:
    """The action a sequence counts for in per-action tables, as VideoPose3D's ``action.split(' ')[0]``
    (``"Walking 1"`` -> ``"Walking"``), with H36M's two spellings unified (``TakingPhoto`` -> ``Photo``,
    ``WalkingDog`` -> ``WalkDog``, as ``prepare_data_h36m.py``)."""
    name = str(action).split(" ")[0]
    return {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}.get(name, name)


def _subject_key(s: str) -> tuple[int, str]:
    digits = "".join(ch for ch in s if ch.isdigit())
    return (int(digits) if digits else 10**9, s)


def _check_subjects(subjects: Sequence[str], table: Mapping[str, Any], source: str) -> None:
    unknown = [s for s in subjects if s not in table]
    if unknown:
        raise KeyError(f"unknown subject(s) {unknown} in {source or 'the data'}; it has "
                       f"{sorted(table, key=_subject_key)}")


def _member(path: Path, key: str) -> Mapping[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"Human3.6M .npz file not found: {str(path)!r}")
    members = _read_npz(path)
    if key not in members:
        raise ValueError(f"{str(path)!r} has no {key!r} member (VideoPose3D layout); it has {sorted(members)}")
    data = _unwrap(members[key])
    if not isinstance(data, Mapping):
        raise ValueError(f"{str(path)!r}: {key!r} must hold a dict {{subject: {{action: ...}}}}, got "
                         f"{type(data).__name__}")
    return data


def load_h36m_3d(path: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray]]:
    """``positions_3d`` of a ``data_3d_h36m.npz`` -> ``{subject: {action: (T, 17, 3) float64}}`` world **mm**
    (32-joint sequences cut to VideoPose3D's 17, which are ``h36m17``). Raises ``ValueError`` naming the
    subject / action for anything that is not a ``(T, 32 | 17, 3)`` numeric array, ``FileNotFoundError``."""
    path = Path(path)
    data = _member(path, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {str(subject): {} for subject in data}
    for subject, action, arr, where in _sequences(path, "positions_3d", data, "arrays"):
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
            raise ValueError(f"{where} must be a numeric array, got {type(arr).__name__}")
        if arr.ndim != 3 or arr.shape[1] not in (32, 17) or arr.shape[2] != 3 or len(arr) == 0:
            raise ValueError(f"{where} must have shape (T, 32, 3) or (T, 17, 3) metres, got {arr.shape}")
        joints = arr[:, list(H36M32_TO_17)] if arr.shape[1] == 32 else arr
        out[subject][action] = _frozen(joints.astype(np.float64) * 1000.0)
    return out


def _sequences(path: Path, member: str, data: Mapping, what: str):
    """``(subject, action, value, where)`` of a ``{subject: {action: value}}`` member, ``where`` naming the file
    and keys for error messages; ``ValueError`` when a subject does not map actions to ``what``."""
    for subject, actions in data.items():
        if not isinstance(actions, Mapping):
            raise ValueError(f"{str(path)!r}: {member}[{subject!r}] must map actions to {what}, got "
                             f"{type(actions).__name__}")
        for action, value in actions.items():
            yield str(subject), str(action), value, f"{str(path)!r}: {member}[{subject!r}][{action!r}]"


def load_h36m_2d(path: str | os.PathLike[str]) -> tuple[dict[str, dict[str, tuple[np.ndarray, ...]]], dict]:
    """``positions_2d`` + ``metadata`` of a VideoPose3D 2D file -> ``({subject: {action: ((T, 17, 2) float64 per
    camera, ...)}}, metadata)`` pixels. Refuses (``ValueError``) a file whose ``metadata`` has another joint count,
    a ``layout_name`` other than ``"h36m"`` (e.g. the COCO-layout detections), or a ``keypoints_symmetry`` other
    than VideoPose3D's (= ``h36m17.flip_pairs``), and any sequence not shaped ``(T, 17, >= 2)``."""
    path = Path(path)
    data = _member(path, "positions_2d")
    meta = _unwrap(_read_npz(path).get("metadata", {}))
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    if "num_joints" in meta and int(meta["num_joints"]) != 17:
        raise ValueError(f"{str(path)!r}: metadata num_joints is {meta['num_joints']}, h36m17 needs 17")
    if "layout_name" in meta and str(meta["layout_name"]).lower() != "h36m":
        raise ValueError(f"{str(path)!r}: metadata layout_name is {meta['layout_name']!r}; only the 'h36m' 17-joint "
                         "layout (VideoPose3D's gt / cpn_ft_h36m_dbb files) is read here")
    if "keypoints_symmetry" in meta:
        sym = tuple(tuple(int(v) for v in side) for side in meta["keypoints_symmetry"])
        if sym != VIDEOPOSE3D_SYMMETRY:
            raise ValueError(f"{str(path)!r}: keypoints_symmetry {[list(s) for s in sym]} is not VideoPose3D's "
                             f"{[list(s) for s in VIDEOPOSE3D_SYMMETRY]}: the joint order differs from h36m17")
    out: dict[str, dict[str, tuple[np.ndarray, ...]]] = {str(subject): {} for subject in data}
    for subject, action, views, where in _sequences(path, "positions_2d", data, "camera lists"):
        if not isinstance(views, (list, tuple)) or not views:
            raise ValueError(f"{where} must be a list of per-camera (T, 17, 2) arrays, got {type(views).__name__}")
        seqs = []
        for i, arr in enumerate(views):
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
                raise ValueError(f"{where}[{i}] must be a numeric array, got {type(arr).__name__}")
            if arr.ndim != 3 or arr.shape[1] != 17 or arr.shape[2] < 2:
                raise ValueError(f"{where}[{i}] must have shape (T, 17, 2) pixels, got {arr.shape}")
            seqs.append(_frozen(arr[..., :2]))
        out[subject][action] = tuple(seqs)
    return out, meta


def load_h36m(path_3d: str | os.PathLike[str], path_2d: str | os.PathLike[str] | None = None) -> H36MData:
    """:func:`load_h36m_3d` and, when given, :func:`load_h36m_2d` as one :class:`H36MData`."""
    positions_3d = load_h36m_3d(path_3d)
    positions_2d, meta = (None, {}) if path_2d is None else load_h36m_2d(path_2d)
    ro = MappingProxyType
    return H36MData(
        ro({s: ro(a) for s, a in positions_3d.items()}),
        None if positions_2d is None else ro({s: ro(a) for s, a in positions_2d.items()}),
        ro(meta), str(path_3d) if path_2d is None else f"{path_3d} + {path_2d}",
    )


def h36m_sequences(data: H36MData, cameras: Mapping[str, Camera], *, subjects: Sequence[str] = H36M_TEST_SUBJECTS,
                   camera_indices: Sequence[int] = (0, 1, 2, 3)) -> list[H36MSequence]:
    """Every (subject, action, camera) of ``subjects`` (sorted), with the world joints seen by each camera and, when
    ``data`` has 2D, its keypoints cut to the 3D length (VideoPose3D's ``run.py``).

    ``cameras``: :func:`~posekit.threed.camera_io.load_cameras` output holding ``"{subject}/{camera id}"``.

    Raises:
        KeyError: an unknown subject, or a subject without its four cameras.
        ValueError: the 2D file lacks a subject / action of the 3D file, has fewer cameras than asked, or a 2D
            sequence is shorter than its 3D one.
    """
    subjects = list(subjects)
    _check_subjects(subjects, data.positions_3d, data.source)
    bad = [i for i in camera_indices if not 0 <= int(i) < 4]
    if bad:
        raise ValueError(f"camera_indices must be in 0..3 (H36M's 4 cameras), got {bad}")
    out = []
    for subject in subjects:
        cams = subject_cameras(cameras, subject)
        for action in sorted(data.positions_3d[subject]):
            world = data.positions_3d[subject][action]
            views = None
            if data.positions_2d is not None:
                views = data.positions_2d.get(subject, {}).get(action)
                if views is None:
                    raise ValueError(f"the 2D file has no {subject}/{action!r} (it has "
                                     f"{sorted(data.positions_2d.get(subject, {}))[:6]}...)")
            for i in camera_indices:
                kp = None
                if views is not None:
                    if i >= len(views):
                        raise ValueError(f"the 2D file has {len(views)} camera(s) for {subject}/{action!r}, "
                                         f"camera {i} asked")
                    if len(views[i]) < len(world):
                        raise ValueError(f"{subject}/{action!r} camera {i}: {len(views[i])} 2D frames for "
                                         f"{len(world)} 3D frames (2D must not be shorter)")
                    kp = _frozen(views[i][: len(world)])
                cam = cams[i]
                out.append(H36MSequence(subject, action, int(i), H36M_CAMERA_IDS[i], cam, world,
                                        _frozen(cam.world_to_camera(world)), kp))
    return out


def _resample(joints: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    n = len(joints)
    times = np.arange(0.0, (n - 1) / src_fps + 1e-9, 1.0 / dst_fps)
    pos = times * src_fps
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0)[:, None, None]
    return joints[i0] * (1.0 - w) + joints[i1] * w


def h36m_training_clips(data: H36MData, subjects: Sequence[str] = H36M_TRAIN_SUBJECTS, *,
                        fps: float | None = 120.0, y_up: bool = True) -> dict[str, np.ndarray]:
    """World-frame clips for :func:`posekit.lift.train.train_lifter`: ``{"S1/Walking 1": (T, 17, 3) float32 mm}``.

    ``fps``: resample H36M's 50 fps linearly to this rate (default 120, the rate ``train_lifter``'s frame strides
    assume for the CMU clips); ``None`` keeps 50 fps. ``y_up``: rotate H36M's Z-up world by :data:`H36M_TO_Y_UP`
    into the Y-up world that ``train_lifter``'s virtual cameras (``up = +Y``) expect.
    """
    subjects = list(subjects)
    _check_subjects(subjects, data.positions_3d, data.source)
    out = {}
    for subject in subjects:
        for action in sorted(data.positions_3d[subject]):
            j = np.asarray(data.positions_3d[subject][action], np.float64)
            if fps is not None:
                j = _resample(j, H36M_FPS, float(fps))
            if y_up:
                j = j @ H36M_TO_Y_UP.T
            out[f"{subject}/{action}"] = j.astype(np.float32)
    return out


def h36m_training_cameras(cameras: Mapping[str, Camera], subjects: Sequence[str] = H36M_TRAIN_SUBJECTS, *,
                          y_up: bool = True) -> dict[str, tuple[Camera, ...]]:
    """``{subject: 4 cameras}`` expressed in the world of :func:`h36m_training_clips` (same ``y_up``), so that
    ``camera.project(clip)`` gives the subject's real views."""
    out = {}
    for subject in subjects:
        cams = subject_cameras(cameras, subject)
        if y_up:  # X_cam = R X_h + t = (R M^T) X_y + t with X_y = M X_h
            cams = tuple(Camera(c.K, c.R @ H36M_TO_Y_UP.T, c.t, c.dist, c.image_size) for c in cams)
        out[subject] = cams
    return out

