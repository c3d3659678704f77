"""PoseNet multi-person decoding: part heatmaps, short-range offsets and mid-range displacements -> poses.

The greedy bottom-up decoder of Papandreou et al., "PersonLab: Person Pose Estimation and Instance Segmentation
with a Bottom-Up, Part-Based, Geometric Embedding Model" (ECCV 2018), as PoseNet (TensorFlow.js
``decodeMultiplePoses``) runs it on a stride-``s`` grid of ``H x W`` cells:

1. Part candidates: every cell whose part score (sigmoid of the heatmap logit) is at least ``score_threshold``
   and is the maximum of its ``(2 r + 1) x (2 r + 1)`` window (``r = local_radius``, clipped at the borders),
   processed in decreasing score order (a priority queue; ties in row, column, part order).
2. A candidate becomes the root of a new pose unless it lies within ``nms_radius`` input pixels of the same
   part of a pose already decoded. Its position is ``cell * stride + offset``.
3. From the root, the pose is decoded greedily along the 16 edges of PoseNet's COCO-17 tree
   (:data:`POSENET_EDGES`): first towards the root of the tree (edges in reverse order, backward displacements),
   then away from it (edges in order, forward displacements). One step: displace the source keypoint by the
   displacement read at its nearest cell, then ``offset_refine_steps`` times snap to the nearest cell and add
   that cell's offset of the target part; the score is the target part's score at the final nearest cell.
4. Pose score (PersonLab's soft "instance score"): the sum of the keypoint scores of the parts that are not
   within ``nms_radius`` of the same part of an earlier pose, divided by the number of parts.

Frames and units: output keypoints are *input pixels* (the network input), x right, y down, pixel ``i``
centred at ``i`` (heatmap cell ``(i, j)`` is input pixel ``(x, y) = (j * stride, i * stride)``), as the other
codecs of :mod:`posekit.codecs`. Model outputs are in graph layout (NHWC): offsets hold the 17 y offsets then
the 17 x offsets (input pixels); displacements hold the 16 y then the 16 x displacements per edge.

Candidates are decoded in vectorised chunks (every edge step runs on all roots of a chunk at once); only the
suppression test and the pose score run per pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.ndimage import maximum_filter

__all__ = ["POSENET_EDGES", "PoseNetDecoded", "PoseNetDecoder"]

#: PoseNet's skeleton tree as (parent, child) COCO-17 keypoint ids, in PoseNet's order (its ``poseChain``):
#: nose-left eye, left eye-left ear, nose-right eye, right eye-right ear, nose-left shoulder, left
#: shoulder-elbow, left elbow-wrist, left shoulder-hip, left hip-knee, left knee-ankle, nose-right shoulder,
#: right shoulder-elbow, right elbow-wrist, right shoulder-hip, right hip-knee, right knee-ankle. Edge ``e`` is
#: channel ``e`` (y) and ``16 + e`` (x) of the displacement maps.
POSENET_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11), (11, 13), (13, 15),
    (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)
_NUM_PARTS = 17
_CHUNK = 32  # candidates decoded together


@dataclass(frozen=True, eq=False)
class PoseNetDecoded:
    """Decoded poses of one image, in decoding order (decreasing root score).

    Attributes:
        keypoints: (N, 17, 2) float32 ``(x, y)`` input pixels (pixel ``i`` centred at ``i``), COCO-17 order.
        scores: (N, 17) float32 keypoint scores in [0, 1] (part heatmap sigmoid at the keypoint's cell).
        pose_scores: (N,) float32 instance scores in [0, 1] (module docstring, step 4).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    pose_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)


def _array(name: str, value: Any, channels: int) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[2] != channels:
        raise ValueError(f"{name} must have shape (H, W, {channels}) or (1, H, W, {channels}) (graph NHWC layout), "
                         f"got {arr.shape}")
    return arr


@dataclass(frozen=True)
class PoseNetDecoder:
    """PoseNet / PersonLab greedy multi-person decoding (module docstring).

    Attributes:
        output_stride: input pixels per heatmap cell (16 for the TF.js MobileNetV1 model).
        score_threshold: least part score of a root candidate (TF.js ``scoreThreshold``, default 0.5).
        nms_radius: suppression radius in input pixels (TF.js ``nmsRadius``, default 20).
        max_poses: at most this many poses (TF.js ``maxDetections``, default 10).
        local_radius: half-size in cells of the local-maximum window (TF.js: 1).
        offset_refine_steps: offset refinements per edge step (TF.js: 2).
        heatmap_activation: ``"sigmoid"`` when ``heatmaps`` are logits (the network's raw output), ``"none"``
            when they are already scores in [0, 1].
    """

    output_stride: int = 16
    score_threshold: float = 0.5
    nms_radius: float = 20.0
    max_poses: int = 10
    local_radius: int = 1
    offset_refine_steps: int = 2
    heatmap_activation: Literal["sigmoid", "none"] = "sigmoid"

    def __post_init__(self) -> None:
        if int(self.output_stride) < 1:
            raise ValueError(f"output_stride must be >= 1, got {self.output_stride}")
        if not 0.0 <= float(self.score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1], got {self.score_threshold}")
        if float(self.nms_radius) < 0:
            raise ValueError(f"nms_radius must be >= 0 input pixels, got {self.nms_radius}")
        if int(self.max_poses) < 1:
            raise ValueError(f"max_poses must be >= 1, got {self.max_poses}")
        if int(self.local_radius) < 0 or int(self.offset_refine_steps) < 0:
            raise ValueError(f"local_radius and offset_refine_steps must be >= 0, got {self.local_radius} and "
                             f"{self.offset_refine_steps}")
        if self.heatmap_activation not in ("sigmoid", "none"):
            raise ValueError(f"heatmap_activation must be 'sigmoid' or 'none', got {self.heatmap_activation!r}")

    def decode(self, heatmaps: Any, offsets: Any, displacements_fwd: Any, displacements_bwd: Any) -> PoseNetDecoded:
        """Poses from one image's network outputs (NumPy arrays or torch tensors, NHWC, batch 1 optional).

        Args:
            heatmaps: (H, W, 17) part logits (or scores, see ``heatmap_activation``).
            offsets: (H, W, 34) short-range offsets, input pixels: 17 y then 17 x.
            displacements_fwd: (H, W, 32) parent -> child displacements, input pixels: 16 y then 16 x.
            displacements_bwd: (H, W, 32) child -> parent displacements, same layout.

        Returns:
            :class:`PoseNetDecoded` (input pixels; empty when no part scores ``score_threshold``).
        """
        heat = _array("heatmaps", heatmaps, _NUM_PARTS)
        grid = heat.shape[:2]
        maps = {"offsets": _array("offsets", offsets, 2 * _NUM_PARTS),
                "displacements_fwd": _array("displacements_fwd", displacements_fwd, 2 * len(POSENET_EDGES)),
                "displacements_bwd": _array("displacements_bwd", displacements_bwd, 2 * len(POSENET_EDGES))}
        for name, arr in maps.items():
            if arr.shape[:2] != grid:
                raise ValueError(f"{name} has grid {arr.shape[:2]} but heatmaps have {grid} (H, W)")
        scores = heat if self.heatmap_activation == "none" else _sigmoid(heat)
        ys, xs, parts = self._candidates(scores)
        return self._decode(scores, maps, ys, xs, parts)

    # ------------------------------------------------------------------------------------------------ steps

    def _candidates(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local maxima at or above the threshold, by decreasing score: (M,) rows, columns and parts."""
        size = 2 * int(self.local_radius) + 1
        peak = maximum_filter(scores, size=(size, size, 1), mode="constant", cval=-np.inf)
        ys, xs, parts = np.nonzero((scores >= self.score_threshold) & (scores >= peak))
        order = np.argsort(-scores[ys, xs, parts], kind="stable")
        return ys[order], xs[order], parts[order]

    def _decode(self, scores: np.ndarray, maps: dict[str, np.ndarray], ys: np.ndarray, xs: np.ndarray,
                parts: np.ndarray) -> PoseNetDecoded:
        stride = float(self.output_stride)
        offsets = maps["offsets"]
        r2 = float(self.nms_radius) ** 2
        cap = int(self.max_poses)
        poses = np.zeros((cap, _NUM_PARTS, 2), np.float32)  # (x, y) of the poses decoded so far
        kp_scores = np.zeros((cap, _NUM_PARTS), np.float32)
        pose_scores = np.zeros(cap, np.float32)
        n = 0
        for start in range(0, len(ys), _CHUNK):
            if n >= cap:
                break
            y, x, p = ys[start:start + _CHUNK], xs[start:start + _CHUNK], parts[start:start + _CHUNK]
            roots = np.stack([x * stride + offsets[y, x, p + _NUM_PARTS], y * stride + offsets[y, x, p]], axis=-1)
            chunk_kp, chunk_sc = None, None
            for i in range(len(y)):
                if n and (((poses[:n, p[i]] - roots[i]) ** 2).sum(-1) <= r2).any():
                    continue
                if chunk_kp is None:  # decode the whole chunk once a root of it is kept
                    chunk_kp, chunk_sc = self._decode_roots(scores, maps, roots, y, x, p)
                kp, sc = chunk_kp[i], chunk_sc[i]
                near = (((poses[:n] - kp) ** 2).sum(-1) <= r2).any(axis=0)  # (17,), all False for the first pose
                pose_scores[n] = sc[~near].sum() / _NUM_PARTS
                poses[n], kp_scores[n] = kp, sc
                n += 1
                if n >= cap:
                    break
        return PoseNetDecoded(poses[:n].copy(), kp_scores[:n].copy(), pose_scores[:n].copy())

    def _decode_roots(self, scores: np.ndarray, maps: dict[str, np.ndarray], roots: np.ndarray, y: np.ndarray,
                      x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole poses from M roots at once: (M, 17, 2) keypoints (x, y) and (M, 17) scores."""
        m = len(roots)
        rows = np.arange(m)
        height, width = scores.shape[:2]
        stride = float(self.output_stride)
        offsets = maps["offsets"]
        kx = np.zeros((m, _NUM_PARTS), np.float32)
        ky = np.zeros((m, _NUM_PARTS), np.float32)
        sc = np.zeros((m, _NUM_PARTS), np.float32)
        known = np.zeros((m, _NUM_PARTS), bool)
        kx[rows, p], ky[rows, p] = roots[:, 0], roots[:, 1]
        sc[rows, p] = scores[y, x, p]
        known[rows, p] = True

        def cell(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # nearest cell, rounding halves up (floor(v + 0.5), JavaScript's Math.round), clipped to the grid
            cy = np.floor(py / stride + 0.5).astype(np.int64)
            cx = np.floor(px / stride + 0.5).astype(np.int64)
            return np.minimum(np.maximum(cy, 0), height - 1), np.minimum(np.maximum(cx, 0), width - 1)

        n_edges = len(POSENET_EDGES)
        steps = [(e, c, par, maps["displacements_bwd"]) for e, (par, c) in reversed(list(enumerate(POSENET_EDGES)))]
        steps += [(e, par, c, maps["displacements_fwd"]) for e, (par, c) in enumerate(POSENET_EDGES)]
        for edge, source, target, disp in steps:
            sel = np.flatnonzero(known[:, source] & ~known[:, target])
            if len(sel) == 0:
                continue
            sx, sy = kx[sel, source], ky[sel, source]
            cy, cx = cell(sx, sy)
            px, py = sx + disp[cy, cx, n_edges + edge], sy + disp[cy, cx, edge]
            for _ in range(int(self.offset_refine_steps)):
                cy, cx = cell(px, py)
                px = cx * stride + offsets[cy, cx, target + _NUM_PARTS]
                py = cy * stride + offsets[cy, cx, target]
            cy, cx = cell(px, py)
            kx[sel, target], ky[sel, target] = px, py
            sc[sel, target] = scores[cy, cx, target]
            known[sel, target] = True
        return np.stack([kx, ky], axis=-1), sc


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))).astype(np.float32)
