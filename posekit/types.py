"""Typed results: :class:`Detections`, :class:`Poses` (2D), :class:`Poses3D` and :class:`FrameResult`.

Coordinate frame of every 2D array: image pixels, x to the right, y down, origin at the top-left corner of
the top-left pixel (so the centre of pixel ``(i, j)`` is ``(j + 0.5, i + 0.5)``). A keypoint that is missing
is stored as NaN with score 0; NaN never raises.

All containers are frozen dataclasses that own copies of their arrays (inputs are never aliased or mutated);
arrays are marked read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from posekit.postprocess import rescore_instances
from posekit.skeletons import Skeleton, mapping
from posekit.viz import draw

__all__ = ["Detections", "Poses", "Poses3D", "FrameResult"]


def _array(name: str, value: Any, dtype: type, shape: tuple[int | None, ...]) -> np.ndarray:
    """Copy ``value`` to a read-only array of ``dtype``; ``None`` in ``shape`` matches any size."""
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {type(value).__name__}: {exc}") from None
    if arr.ndim == len(shape) - 1 and arr.size == 0:
        arr = arr.reshape((0,) + tuple(1 if s is None else s for s in shape[1:]))
    ok = arr.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, arr.shape))
    if not ok:
        dims = ["*" if s is None else str(s) for s in shape]
        want = f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


def _check_len(name: str, arr: np.ndarray | None, n: int) -> None:
    if arr is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but there are {n} instances")


def _scores(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    arr = np.array(_array(name, value, np.float32, shape))
    arr[np.isnan(arr)] = 0.0
    if np.any(arr < -1e-6) or np.any(arr > 1 + 1e-6):
        raise ValueError(f"{name} must lie in [0, 1], got range [{arr.min():.4g}, {arr.max():.4g}]")
    arr = np.clip(arr, 0.0, 1.0)
    arr.setflags(write=False)
    return arr


def _keypoints_and_scores(keypoints: Any, scores: Any, k: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated read-only copies: keypoints (N, k, dim) float32 and scores (N, k) float32; a keypoint with any
    non-finite coordinate becomes all-NaN (missing) with score 0."""
    kpts = np.array(_array("keypoints", keypoints, np.float32, (None, k, dim)))
    scores = np.array(_scores("scores", scores, (len(kpts), k)))
    missing = ~np.isfinite(kpts).all(axis=-1)
    kpts[missing] = np.nan
    scores[missing] = 0.0
    for arr in (kpts, scores):
        arr.setflags(write=False)
    return kpts, scores


def _select(arr: np.ndarray | None, index: Any) -> np.ndarray | None:
    if arr is None:
        return None
    out = arr[index]
    return out if out.ndim == arr.ndim else out[None]


@dataclass(frozen=True)
class Detections:
    """Person (or hand/face) detections in one image.

    Attributes:
        boxes: (N, 4) float32 ``x1, y1, x2, y2`` in image pixels.
        scores: (N,) float32 confidences in [0, 1].
        labels: (N,) int64 class ids (0 = the detector's only class).
        keypoints: optional (N, M, 2) float32 detector landmarks in image pixels (e.g. BlazePose's alignment points).
        needs_check: optional (N,) bool, True for a candidate the landmark pipeline must confirm: a detection found
            only on an image tile, or one scoring below the trusted score (set by
            :class:`posekit.detect.tiled.TiledDetector`; pipelines apply false-positive checks to those, see
            :func:`posekit.detect.tiled.tile_false_positives`); ``None`` = all trusted.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    needs_check: np.ndarray | None = None

    def __post_init__(self) -> None:
        boxes = _array("boxes", self.boxes, np.float32, (None, 4))
        n = len(boxes)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", _scores("scores", self.scores, (n,)))
        labels = np.zeros(n, np.int64) if self.labels is None else self.labels
        object.__setattr__(self, "labels", _array("labels", labels, np.int64, (n,)))
        if self.keypoints is not None:
            object.__setattr__(self, "keypoints", _array("keypoints", self.keypoints, np.float32, (n, None, 2)))
        if self.needs_check is not None:
            object.__setattr__(self, "needs_check", _array("needs_check", self.needs_check, np.bool_, (n,)))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: Any) -> Detections:
        return Detections(
            _select(self.boxes, index), _select(self.scores, index), _select(self.labels, index),
            _select(self.keypoints, index), _select(self.needs_check, index),
        )

    def numpy(self) -> dict[str, np.ndarray]:
        """The arrays as a dict (copies)."""
        out = {"boxes": self.boxes.copy(), "scores": self.scores.copy(), "labels": self.labels.copy()}
        if self.keypoints is not None:
            out["keypoints"] = self.keypoints.copy()
        if self.needs_check is not None:
            out["needs_check"] = self.needs_check.copy()
        return out


@dataclass(frozen=True)
class Poses:
    """2D poses of N instances with K keypoints each.

    Attributes:
        keypoints: (N, K, 2) float32 image pixels (frame in the module docstring); NaN = missing.
        scores: (N, K) float32 in [0, 1]; 0 where the keypoint is missing.
        boxes: (N, 4) float32 ``x1, y1, x2, y2`` pixels (the detection or crop each pose came from).
        skeleton: the keypoint layout (``skeleton.num_keypoints == K``).
        box_scores: (N,) float32 detection confidences in [0, 1] (default 1).
        track_ids: optional (N,) int64 persistent identities across video frames.
        keypoints_3d: optional (N, K, 3) float32 3D landmarks of the same keypoints (model-specific frame,
            e.g. BlazePose world landmarks in metres, hip-centred).
        image_size: optional ``(width, height)`` of the source image in pixels.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    skeleton: Skeleton
    box_scores: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    keypoints_3d: np.ndarray | None = None
    image_size: tuple[int, int] | None = field(default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.skeleton, Skeleton):
            raise TypeError(f"skeleton must be a posekit Skeleton, got {type(self.skeleton).__name__}")
        kpts, scores = _keypoints_and_scores(self.keypoints, self.scores, self.skeleton.num_keypoints, 2)
        n, k = scores.shape
        object.__setattr__(self, "keypoints", kpts)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "boxes", _array("boxes", self.boxes, np.float32, (n, 4)))
        box_scores = np.ones(n, np.float32) if self.box_scores is None else self.box_scores
        object.__setattr__(self, "box_scores", _scores("box_scores", box_scores, (n,)))
        if self.track_ids is not None:
            object.__setattr__(self, "track_ids", _array("track_ids", self.track_ids, np.int64, (n,)))
        if self.keypoints_3d is not None:
            object.__setattr__(self, "keypoints_3d", _array("keypoints_3d", self.keypoints_3d, np.float32, (n, k, 3)))
        if self.image_size is not None:
            w, h = (int(v) for v in self.image_size)
            if w <= 0 or h <= 0:
                raise ValueError(f"image_size must be positive (width, height), got {self.image_size}")
            object.__setattr__(self, "image_size", (w, h))

    @classmethod
    def empty(cls, skeleton: Skeleton, *, image_size: tuple[int, int] | None = None) -> Poses:
        """No instances: keypoints of shape (0, K, 2)."""
        k = skeleton.num_keypoints
        return cls(np.zeros((0, k, 2)), np.zeros((0, k)), np.zeros((0, 4)), skeleton, image_size=image_size)

    def __len__(self) -> int:
        return len(self.keypoints)

    def __getitem__(self, index: Any) -> Poses:
        """Instances selected by an int, slice, boolean mask or index array (always a ``Poses``)."""
        return replace(
            self,
            keypoints=_select(self.keypoints, index),
            scores=_select(self.scores, index),
            boxes=_select(self.boxes, index),
            box_scores=_select(self.box_scores, index),
            track_ids=_select(self.track_ids, index),
            keypoints_3d=_select(self.keypoints_3d, index),
        )

    def numpy(self) -> dict[str, np.ndarray]:
        """The arrays as a dict of copies (``keypoints``, ``scores``, ``boxes``, ``box_scores``, optional ones)."""
        out = {
            "keypoints": self.keypoints.copy(), "scores": self.scores.copy(),
            "boxes": self.boxes.copy(), "box_scores": self.box_scores.copy(),
        }
        if self.track_ids is not None:
            out["track_ids"] = self.track_ids.copy()
        if self.keypoints_3d is not None:
            out["keypoints_3d"] = self.keypoints_3d.copy()
        return out

    def instance_scores(self, *, keypoint_threshold: float = 0.2) -> np.ndarray:
        """(N,) float32 person scores: box score x mean of the keypoint scores above ``keypoint_threshold``
        (MMPose's ``bbox_keypoint`` rescoring, :func:`posekit.postprocess.rescore_instances`; 0 keypoints above
        the threshold gives the box score x 0)."""
        return rescore_instances(self.scores, self.box_scores, keypoint_score_thr=keypoint_threshold)

    def to_coco(self, image_id: int, *, category_id: int = 1, keypoint_threshold: float = 0.2) -> list[dict]:
        """COCO keypoint results: one dict per instance with ``image_id``, ``category_id``, ``keypoints``
        (3K floats ``x, y, score``; missing keypoints as ``0, 0, 0``), ``score`` (:meth:`instance_scores`) and
        ``bbox`` (``x, y, w, h`` pixels). ``track_id`` is included when set."""
        kpts = np.nan_to_num(self.keypoints, nan=0.0)
        flat = np.concatenate([kpts, self.scores[..., None]], axis=-1).reshape(len(self), 3 * self.skeleton.num_keypoints)
        person = self.instance_scores(keypoint_threshold=keypoint_threshold)
        out = []
        for i in range(len(self)):
            x1, y1, x2, y2 = (float(v) for v in self.boxes[i])
            rec = {
                "image_id": int(image_id), "category_id": int(category_id),
                "keypoints": [round(float(v), 3) for v in flat[i]],
                "score": float(person[i]), "bbox": [x1, y1, x2 - x1, y2 - y1],
            }
            if self.track_ids is not None:
                rec["track_id"] = int(self.track_ids[i])
            out.append(rec)
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict: skeleton name and keypoint names, and per-instance lists (NaN -> ``None``)."""
        def lists(a: np.ndarray | None) -> list | None:
            return None if a is None else np.where(np.isnan(a), None, a.astype(object)).tolist()

        return {
            "skeleton": self.skeleton.name, "keypoint_names": list(self.skeleton.keypoints),
            "image_size": self.image_size,
            "keypoints": lists(self.keypoints), "scores": lists(self.scores), "boxes": lists(self.boxes),
            "box_scores": lists(self.box_scores),
            "track_ids": None if self.track_ids is None else self.track_ids.tolist(),
            "keypoints_3d": lists(self.keypoints_3d),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string (``kwargs`` go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_skeleton(self, target: Skeleton) -> Poses:
        """The same poses in another skeleton through the explicit mapping between them (see
        :func:`posekit.skeletons.mapping`); target joints with no source become missing. 3D keypoints are
        mapped the same way."""
        m = mapping(self.skeleton, target)
        kpts, scores = m.apply(self.keypoints, self.scores)
        k3d = None if self.keypoints_3d is None else m.apply(self.keypoints_3d)[0]
        return replace(self, keypoints=kpts, scores=scores, skeleton=target, keypoints_3d=k3d)

    def plot(self, image: Any, **kwargs: Any) -> np.ndarray:
        """A new RGB uint8 image with these poses drawn on ``image`` (see :func:`posekit.draw`)."""
        return draw(image, self, **kwargs)


@dataclass(frozen=True)
class Poses3D:
    """3D poses of N instances with K keypoints.

    Attributes:
        keypoints: (N, K, 3) float32 coordinates in ``unit``; NaN = missing.
        scores: (N, K) float32 in [0, 1].
        skeleton: the keypoint layout.
        unit: ``"mm"`` or ``"m"``.
        frame: the coordinate frame in words, e.g. ``"root-relative camera"`` or ``"world"``.
        track_ids: optional (N,) int64.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    skeleton: Skeleton
    unit: str = "mm"
    frame: str = "root-relative camera"
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.unit not in ("mm", "m"):
            raise ValueError(f"unit must be 'mm' or 'm', got {self.unit!r}")
        kpts, scores = _keypoints_and_scores(self.keypoints, self.scores, self.skeleton.num_keypoints, 3)
        n = len(kpts)
        object.__setattr__(self, "keypoints", kpts)
        object.__setattr__(self, "scores", scores)
        if self.track_ids is not None:
            object.__setattr__(self, "track_ids", _array("track_ids", self.track_ids, np.int64, (n,)))

    def __len__(self) -> int:
        return len(self.keypoints)

    def __getitem__(self, index: Any) -> Poses3D:
        return replace(
            self, keypoints=_select(self.keypoints, index), scores=_select(self.scores, index),
            track_ids=_select(self.track_ids, index),
        )

    def numpy(self) -> dict[str, np.ndarray]:
        out = {"keypoints": self.keypoints.copy(), "scores": self.scores.copy()}
        if self.track_ids is not None:
            out["track_ids"] = self.track_ids.copy()
        return out

    def to_json(self, **kwargs: Any) -> str:
        data = {
            "skeleton": self.skeleton.name, "unit": self.unit, "frame": self.frame,
            "keypoints": np.where(np.isnan(self.keypoints), None, self.keypoints.astype(object)).tolist(),
            "scores": self.scores.tolist(),
            "track_ids": None if self.track_ids is None else self.track_ids.tolist(),
        }
        return json.dumps(data, **kwargs)


@dataclass(frozen=True)
class FrameResult:
    """Everything posekit found in one video frame.

    Attributes:
        index: frame index in the source video (0-based).
        time_s: presentation time in seconds, or ``None`` when unknown.
        poses: the 2D poses (with ``track_ids`` when tracking is on).
        poses_3d: optional lifted 3D poses.
        detections: optional raw detections.
    """

    index: int
    poses: Poses
    time_s: float | None = None
    poses_3d: Poses3D | None = None
    detections: Detections | None = None

    def __post_init__(self) -> None:
        if int(self.index) < 0:
            raise ValueError(f"frame index must be >= 0, got {self.index}")
        object.__setattr__(self, "index", int(self.index))

    def to_dict(self) -> dict:
        out = {"frame": self.index, "time_s": self.time_s, **self.poses.to_dict()}
        if self.poses_3d is not None:
            out["poses_3d"] = json.loads(self.poses_3d.to_json())
        return out

    def to_json(self, **kwargs: Any) -> str:
        """One JSON line for this frame."""
        return json.dumps(self.to_dict(), **kwargs)
