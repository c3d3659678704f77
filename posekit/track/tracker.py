"""Persistent person ids across video frames: Hungarian matching on box IoU + OKS with a constant-velocity model.

Each frame, every live track is moved forward to the current frame by the velocity of its box centre (the box
keeps its last size, the keypoints are translated with the centre), then tracks and the frame's poses are paired by
:func:`scipy.optimize.linear_sum_assignment` on the similarity

    ``s = iou_weight * IoU(predicted box, box) + (1 - iou_weight) * OKS(predicted keypoints, keypoints)``

(OKS as :func:`posekit.postprocess.oks_iou`, with the box area as the instance area; when a pair shares no keypoint
scoring above ``keypoint_threshold`` the IoU alone is used). Pairs with ``s < min_similarity``, or with an OKS below
``min_oks``, are not matched.
Unmatched poses start tentative tracks; a track is confirmed, and given the next free id (0, 1, 2, ...), after
``min_hits`` matched frames, or at once during the first ``min_hits`` updates of the stream (as SORT does), so
ids start on the first frame. A tentative track that misses a frame is dropped; a confirmed one survives
``max_age`` frames without a match (an occluded person keeps the id) and is then dropped.

All positions are image pixels (x right, y down); velocities are pixels per frame (an exponential average of the
displacements between matches), where a frame is one step of
``frame_index`` (so ``--every N`` sampling works: the gaps between indices are the time steps).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.boxes import box_area, box_iou
from posekit.postprocess import oks_iou
from posekit.skeletons import Skeleton
from posekit.types import Poses

__all__ = ["Tracker", "DEFAULT_OKS_SIGMA"]

DEFAULT_OKS_SIGMA = 0.072
"""Per-keypoint OKS sigma used for skeletons that define none (the mean of COCO's 17 sigmas)."""


def _to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], axis=-1)


def _to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    c, wh = cxcywh[..., :2], np.maximum(cxcywh[..., 2:], 1.0)
    return np.concatenate([c - wh / 2, c + wh / 2], axis=-1)


@dataclass
class _Track:
    """Mutable state of one track (private to :class:`Tracker`)."""

    track_id: int  # -1 while tentative
    box: np.ndarray  # (4,) float64 cx, cy, w, h pixels at ``last_frame``
    velocity: np.ndarray  # (2,) float64 pixels per frame of the box centre
    keypoints: np.ndarray  # (K, 2) float64 pixels at ``last_frame``; NaN = missing
    scores: np.ndarray  # (K,) float64
    last_frame: int
    hits: int = 1

    def predict(self, frame_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Box (cx, cy, w, h) and (K, 2) keypoints moved forward to ``frame_index`` (the centre moves with the
        velocity, the size is kept: extrapolating a noisy size change over a gap collapses the box)."""
        shift = self.velocity * (frame_index - self.last_frame)
        box = self.box.copy()
        box[:2] += shift
        return box, self.keypoints + shift[None]


class Tracker:
    """Online multi-person tracker: ``tracker.update(poses, frame_index=i)`` once per frame, in frame order.

    Args (keyword-only):
        iou_weight: weight of box IoU in the similarity, in [0, 1]; ``1 - iou_weight`` goes to OKS.
        min_similarity: pairs less similar than this (in [0, 1]) are never matched.
        max_age: frames a confirmed track survives without a match (>= 0).
        min_hits: matched frames before a track is confirmed and gets an id (>= 1).
        velocity_smoothing: weight in (0, 1] of the newest velocity measurement in the exponential average
            (1 = last displacement only).
        keypoint_threshold: keypoints scoring at or below this are left out of the OKS.
        min_oks: a pair whose OKS is below this is never matched, however large its box IoU (keeps a track from
            jumping to a neighbour whose box overlaps but whose keypoints are elsewhere).
        sigmas: (K,) OKS sigmas; default the skeleton's, or :data:`DEFAULT_OKS_SIGMA` for every keypoint when
            the skeleton defines none.

    The tracker holds state (its tracks) but never touches the poses it is given.
    """

    def __init__(
        self,
        *,
        iou_weight: float = 0.5,
        min_similarity: float = 0.3,
        max_age: int = 30,
        min_hits: int = 3,
        velocity_smoothing: float = 0.5,
        keypoint_threshold: float = 0.3,
        min_oks: float = 0.1,
        sigmas: np.ndarray | None = None,
    ) -> None:
        if not 0.0 <= iou_weight <= 1.0:
            raise ValueError(f"iou_weight must be in [0, 1], got {iou_weight}")
        if not 0.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [0, 1], got {min_similarity}")
        if int(max_age) != max_age or max_age < 0:
            raise ValueError(f"max_age must be an integer >= 0, got {max_age!r}")
        if int(min_hits) != min_hits or min_hits < 1:
            raise ValueError(f"min_hits must be an integer >= 1, got {min_hits!r}")
        if not 0.0 <= min_oks <= 1.0:
            raise ValueError(f"min_oks must be in [0, 1], got {min_oks}")
        if not 0.0 < velocity_smoothing <= 1.0:
            raise ValueError(f"velocity_smoothing must be in (0, 1], got {velocity_smoothing}")
        self.iou_weight = float(iou_weight)
        self.min_similarity = float(min_similarity)
        self.max_age = int(max_age)
        self.min_hits = int(min_hits)
        self.velocity_smoothing = float(velocity_smoothing)
        self.keypoint_threshold = float(keypoint_threshold)
        self.min_oks = float(min_oks)
        self._sigmas_arg = None if sigmas is None else np.asarray(sigmas, dtype=np.float64).copy()
        self.reset()

    def reset(self) -> None:
        """Forget every track; the next id is 0 again."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._updates = 0
        self._last_frame: int | None = None
        self._skeleton: Skeleton | None = None

    @property
    def active_ids(self) -> tuple[int, ...]:
        """Ids of the confirmed tracks still alive (matched within the last ``max_age`` frames)."""
        return tuple(t.track_id for t in self._tracks if t.track_id >= 0)

    def _sigmas(self, skeleton: Skeleton) -> np.ndarray:
        k = skeleton.num_keypoints
        if self._sigmas_arg is not None:
            if self._sigmas_arg.shape != (k,):
                raise ValueError(f"sigmas must have shape ({k},) for skeleton {skeleton.name!r}, "
                                 f"got {self._sigmas_arg.shape}")
            return self._sigmas_arg
        if skeleton.sigmas is not None:
            return skeleton.sigmas_array()
        return np.full(k, DEFAULT_OKS_SIGMA)

    def _similarity(self, poses: Poses, frame_index: int) -> np.ndarray:
        """(T, N) float64 similarity of the predicted tracks with the frame's poses."""
        n_t, n = len(self._tracks), len(poses)
        if n_t == 0 or n == 0:
            return np.zeros((n_t, n))
        predicted = [t.predict(frame_index) for t in self._tracks]
        pred_boxes = _to_xyxy(np.stack([b for b, _ in predicted]))
        iou = box_iou(pred_boxes, poses.boxes)
        if self.iou_weight == 1.0:
            return iou
        sigmas = self._sigmas(poses.skeleton)
        det_kpts = poses.keypoints.astype(np.float64)
        det_scores = poses.scores.astype(np.float64)
        det_areas = np.nan_to_num(box_area(poses.boxes.astype(np.float64)), nan=0.0)
        det_ok = np.isfinite(det_kpts).all(-1) & (det_scores > self.keypoint_threshold)
        sim = np.empty((n_t, n))
        for i, (track, (box, kpts)) in enumerate(zip(self._tracks, predicted)):
            oks = oks_iou(kpts, det_kpts, float(box[2] * box[3]), det_areas, sigmas,
                          keypoint_scores=track.scores, other_keypoint_scores=det_scores,
                          score_threshold=self.keypoint_threshold)
            trk_ok = np.isfinite(kpts).all(-1) & (track.scores > self.keypoint_threshold)
            shared = (det_ok & trk_ok[None]).any(axis=1)
            blend = self.iou_weight * iou[i] + (1 - self.iou_weight) * oks
            sim[i] = np.where(shared, np.where(oks >= self.min_oks, blend, 0.0), iou[i])
        return sim

    def update(self, poses: Poses, *, frame_index: int) -> Poses:
        """Match ``poses`` (one frame) to the tracks; returns the same poses with ``track_ids`` set.

        Args:
            poses: the frame's N poses (boxes (N, 4) xyxy pixels, keypoints (N, K, 2) pixels).
            frame_index: the frame's index, strictly larger than the previous call's.

        Returns:
            A new :class:`~posekit.types.Poses` equal to ``poses`` with ``track_ids`` (N,) int64: the id of the
            confirmed track each pose belongs to, or -1 for a pose whose track is still tentative.
        """
        if not isinstance(poses, Poses):
            raise TypeError(f"poses must be posekit.Poses, got {type(poses).__name__}")
        frame_index = int(frame_index)
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"frame_index must increase between updates: got {frame_index} after {self._last_frame}")
        if self._skeleton is not None and poses.skeleton != self._skeleton:
            raise ValueError(f"poses.skeleton changed from {self._skeleton.name!r} to {poses.skeleton.name!r}; "
                             "use one Tracker per skeleton or call reset()")
        self._skeleton = poses.skeleton
        self._last_frame = frame_index
        self._updates += 1

        sim = self._similarity(poses, frame_index)
        rows, cols = linear_sum_assignment(-sim) if sim.size else (np.zeros(0, int), np.zeros(0, int))
        keep = sim[rows, cols] >= self.min_similarity
        rows, cols = rows[keep], cols[keep]

        ids = np.full(len(poses), -1, dtype=np.int64)
        boxes = _to_cxcywh(poses.boxes)
        matched_tracks = set()
        for r, c in zip(rows.tolist(), cols.tolist()):
            self._match(self._tracks[r], boxes[c], poses.keypoints[c], poses.scores[c], frame_index)
            ids[c] = self._tracks[r].track_id
            matched_tracks.add(r)
        survivors = []
        for i, t in enumerate(self._tracks):
            if i in matched_tracks:
                survivors.append(t)
            elif t.track_id >= 0 and frame_index - t.last_frame <= self.max_age:
                survivors.append(t)
        matched_dets = set(cols.tolist())
        for c in range(len(poses)):
            if c in matched_dets:
                continue
            track = _Track(-1, boxes[c].copy(), np.zeros(2), poses.keypoints[c].astype(np.float64),
                           poses.scores[c].astype(np.float64), frame_index)
            self._confirm_if_due(track)
            ids[c] = track.track_id
            survivors.append(track)
        self._tracks = survivors
        return replace(poses, track_ids=ids)

    def _confirm_if_due(self, track: _Track) -> None:
        if track.track_id < 0 and (track.hits >= self.min_hits or self._updates <= self.min_hits):
            track.track_id = self._next_id
            self._next_id += 1

    def _match(self, track: _Track, box: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
               frame_index: int) -> None:
        dt = frame_index - track.last_frame
        measured = (box[:2] - track.box[:2]) / dt
        a = 1.0 if track.hits == 1 else self.velocity_smoothing
        track.velocity = a * measured + (1 - a) * track.velocity
        track.box = box.copy()
        track.keypoints = keypoints.astype(np.float64)
        track.scores = scores.astype(np.float64)
        track.last_frame = frame_index
        track.hits += 1
        self._confirm_if_due(track)
