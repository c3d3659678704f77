"""BlazePose (MediaPipe 0.10.14 ``pose_landmark_full``; ``heavy`` and ``lite`` from ``@mediapipe/pose``): 33
keypoints + 3D world landmarks, multi-person, on MediaPipe's pose detector or any person detector's boxes.

The shared detector -> ROI -> crop -> landmark-model machinery is :class:`posekit.pipelines.mediapipe.
MediaPipeLandmarkEstimator`; this module holds BlazePose's decoding (heatmap refinement, world landmarks), the
checks of the people found (the false-positive filter for candidate instances, found on detector tiles or below
the trusted detection score: :func:`posekit.detect.tiled.tile_false_positives`; the duplicate filter on every
instance: :func:`posekit.detect.duplicates.duplicate_poses`) and the builders :func:`blazepose` (``variant``:
:data:`VARIANTS`), :func:`blazepose_full`, :func:`blazepose_heavy`, :func:`blazepose_lite` with the
:data:`MEDIAPIPE_EXACT` setting. Box detectors and the refinement of their ROIs:
:mod:`posekit.pipelines.blazepose_boxes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from posekit.detect.duplicates import DuplicateFilter, duplicate_poses, pose_conflicts, pose_stability
from posekit.detect.mediapipe import POSE_DETECTION_CONFIG, blazepose_detector
from posekit.detect.tiled import TiledDetector, TileFilter, tile_false_positives, wants_candidates
from posekit.models.mediapipe_wheel import POSE_LANDMARK_FULL, load_mediapipe_module
from posekit.models.npm_models import load_npm_tflite_module
from posekit.numerics import sigmoid
from posekit.pipelines import roi
from posekit.pipelines.blazepose_boxes import plan_rois, refined_rois
from posekit.pipelines.mediapipe import (_F, DecodedLandmarks, LandmarkResult, MediaPipeLandmarkEstimator,
                                        mp_pipeline_options)
from posekit.pipelines.roi import Rois
from posekit.skeletons import blazepose33, coco17, mapping
from posekit.types import Detections, Poses
from posekit.warps import warp_perspective_exact

__all__ = ["BlazePoseEstimator", "blazepose", "blazepose_full", "blazepose_heavy", "blazepose_lite",
           "load_landmark_module", "VARIANTS", "MEDIAPIPE_EXACT", "refine_landmarks_from_heatmap",
           "decode_pose_outputs"]

#: BlazePose GHUM landmark networks: variant -> TFLite graph name. All three take a 256 x 256 x 3 input in [0, 1]
#: and return the same five outputs in the same order (landmarks (1, 195), pose_flag (1, 1), segmentation
#: (1, 256, 256, 1), heatmap (1, 64, 64, 39), world landmarks (1, 117)); ``full`` comes from the MediaPipe wheel,
#: ``heavy`` and ``lite`` from the ``@mediapipe/pose`` npm package.
VARIANTS: Mapping[str, str] = MappingProxyType({"full": "pose_landmark_full", "heavy": "pose_landmark_heavy",
                                                "lite": "pose_landmark_lite"})

#: :func:`blazepose_full` options that reproduce ``mp.solutions.pose`` (static image mode, ``model_complexity=1``)
#: for every person MediaPipe's detector finds: its single detector pass at its own 0.5 threshold, no duplicate
#: filter (``blazepose_full(**MEDIAPIPE_EXACT)``, ``PoseEstimator.from_pretrained("blazepose_full",
#: **MEDIAPIPE_EXACT)``). The defaults instead look for every person (2x2 tiles, detections down to 0.3).
MEDIAPIPE_EXACT: Mapping[str, Any] = MappingProxyType({"tiles": 1, "min_detection_score": 0.5,
                                                       "duplicate_filter": None})


def _tile_filter_constants() -> tuple[np.ndarray, tuple[int, ...]]:
    """(33,) float64 OKS sigmas of the BlazePose landmarks that have a COCO-17 counterpart (NaN for the others)
    and the indices of the shoulders and hips, for :func:`~posekit.detect.tiled.tile_false_positives`."""
    sigmas = np.full(blazepose33.num_keypoints, np.nan)
    for src, dst in mapping(blazepose33, coco17).pairs:
        sigmas[src] = coco17.sigmas[dst]
    torso = tuple(blazepose33.keypoints.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    return sigmas, torso


#: the BlazePose landmark of each COCO-17 keypoint, in COCO order, and COCO's OKS sigmas: the duplicate filter's
#: keypoints
_COCO17_SOURCE = np.array([src for src, _ in sorted(mapping(blazepose33, coco17).pairs, key=lambda p: p[1])])
_COCO17_SIGMAS = np.asarray(coco17.sigmas, np.float64)


def refine_landmarks_from_heatmap(
    xy: np.ndarray, heatmap: np.ndarray, *, kernel_size: int = 9, min_confidence_to_refine: float = 0.5
) -> np.ndarray:
    """MediaPipe's ``RefineLandmarksFromHeatmapCalculator`` (presence/visibility refinement off, as in BlazePose).

    Each landmark is replaced by the sigmoid-weighted mean position of the ``kernel_size`` x ``kernel_size``
    heatmap window around it, when the window's maximum confidence reaches ``min_confidence_to_refine``.
    MediaPipe 0.10.14 runs with the option default ``kernel_size=9`` (the ``7`` in the ``.pbtxt`` does not reach
    the shipped graph); its quirks are kept: the cell index is truncated toward zero, and the bounds check tests
    the column against the height, so rows below the heatmap are not skipped (their window is clipped).

    Args:
        xy: (B, K, 2) float32 crop-normalised landmarks in [0, 1].
        heatmap: (B, h, w, K) float32 heatmap logits (NHWC, as the model returns them).

    Returns:
        (B, K, 2) float32 refined crop-normalised landmarks (a new array).
    """
    xy = np.asarray(xy, _F)
    hm = np.asarray(heatmap, _F)
    b, hh, ww, k = hm.shape
    if xy.shape != (b, k, 2):
        raise ValueError(f"xy must have shape (B={b}, K={k}, 2) to match the heatmap {hm.shape}, got {xy.shape}")
    col = np.trunc(np.clip(xy[..., 0] * _F(ww), -1e6, 1e6)).astype(np.int64)
    row = np.trunc(np.clip(xy[..., 1] * _F(hh), -1e6, 1e6)).astype(np.int64)
    skip = (col < 0) | (col >= ww) | (row < 0) | (col >= hh)
    off = np.arange(kernel_size) - (kernel_size - 1) // 2
    rows, cols = row[..., None] + off, col[..., None] + off  # (B, K, k)
    rmask, cmask = (rows >= 0) & (rows < hh), (cols >= 0) & (cols < ww)
    hm_t = np.moveaxis(hm, 3, 1)  # (B, K, h, w)
    bi, ki = np.arange(b)[:, None, None, None], np.arange(k)[None, :, None, None]
    win = hm_t[bi, ki, rows.clip(0, hh - 1)[..., :, None], cols.clip(0, ww - 1)[..., None, :]]
    mask = rmask[..., :, None] & cmask[..., None, :]
    conf = np.where(mask, sigmoid(win), _F(0))
    total = conf.sum((-2, -1), dtype=_F)
    best = conf.max((-2, -1))
    wcol = (conf * cols[..., None, :].astype(_F)).sum((-2, -1), dtype=_F)
    wrow = (conf * rows[..., :, None].astype(_F)).sum((-2, -1), dtype=_F)
    ok = ~skip & (best >= _F(min_confidence_to_refine)) & (total > 0)
    safe = np.where(total > 0, total, _F(1))
    out = xy.copy()
    out[..., 0] = np.where(ok, wcol / _F(ww) / safe, xy[..., 0])
    out[..., 1] = np.where(ok, wrow / _F(hh) / safe, xy[..., 1])
    return out


def decode_pose_outputs(outputs: Sequence[np.ndarray], rois: Rois, *, input_size: int = 256,
                        kernel_size: int = 9, min_confidence_to_refine: float = 0.5) -> DecodedLandmarks:
    """Decode BlazePose landmark outputs (TFLite order: landmarks (B, 195), pose_flag (B, 1), segmentation,
    heatmap (B, 64, 64, 39), world (B, 117)) for the B ROIs they came from.

    Returns :class:`~posekit.pipelines.mediapipe.DecodedLandmarks` (float32): ``landmarks`` (B, 39, 3) image
    pixels (z scaled like x), ``visibility`` and ``presence`` (B, 39) sigmoid, ``world_landmarks`` (B, 39, 3)
    metres with the ROI rotation undone, ``instance_scores`` (B,) pose_flag (as the model outputs it), and
    ``normalized`` (B, 39, 5) MediaPipe's image-normalised landmarks (x / W, y / H, z / W, visibility, presence);
    ``handedness`` is None.
    """
    raw = np.asarray(outputs[0], _F).reshape(len(rois), -1, 5)
    flag = np.asarray(outputs[1], _F).reshape(len(rois))
    heatmap = np.asarray(outputs[3], _F)
    world = np.asarray(outputs[4], _F).reshape(len(rois), -1, 3)
    xy = raw[..., :2] / _F(input_size)
    xy = refine_landmarks_from_heatmap(xy, heatmap, kernel_size=kernel_size,
                                       min_confidence_to_refine=min_confidence_to_refine)
    z = raw[..., 2:3] / _F(input_size)
    landmarks = roi.project_landmarks(np.concatenate([xy, z], -1), rois)
    vis, pres = sigmoid(raw[..., 3]), sigmoid(raw[..., 4])
    w, h = rois.image_size
    norm = np.concatenate([landmarks / np.array([w, h, w], _F), vis[..., None], pres[..., None]], -1)
    return DecodedLandmarks(landmarks=landmarks, instance_scores=flag,
                            world_landmarks=roi.rotate_world_landmarks(world, rois), visibility=vis,
                            presence=pres, normalized=norm.astype(_F))


class BlazePoseEstimator(MediaPipeLandmarkEstimator):
    """BlazePose GHUM 3D (``pose_landmark_full``, ``_heavy`` or ``_lite``) on every person the detector finds.

    ROI: detector keypoint 0 (hip centre) and 1 (full-body scale point), rotation so that 0 -> 1 points up,
    side = 2 x distance x 1.25, square; 256 x 256 crop (border replicate), input in [0, 1]. Tracking ROI: the
    auxiliary landmarks 33 and 34 with the same rule.

    ``poses`` of the result: ``keypoints`` (N, 33, 2) image pixels; ``scores`` = landmark **visibility**
    (sigmoid); ``keypoints_3d`` = world landmarks (N, 33, 3) metres, hip-centred, x right, y down, z away from
    the camera; ``boxes`` = the detection box (or the caller's box, or the ROI's axis-aligned bound when ROIs
    are given/tracked); ``box_scores`` = pose presence (pose_flag).

    Any :class:`posekit.detect.Detector` that finds only boxes (no keypoints, e.g. NanoDet or
    :class:`posekit.detect.FixedBoxes`) can be the detector: its boxes become square box ROIs, like caller
    ``boxes=``. ``refine=True`` then runs the landmark model once more: every ROI planned from boxes or detections
    (not caller ROIs, not tracked ones) is replaced by the ROI of the first pass's alignment landmarks 33/34 (see
    :mod:`posekit.pipelines.blazepose_boxes`), whatever the first pass's presence flag. It costs one
    extra landmark-model pass per person. ``refine=None`` (default) refines only the ROIs of a box detector's
    detections (caller ``boxes=`` and MediaPipe's detector keep today's single pass); ``False`` never refines.

    The people the detector found are checked (in :meth:`predict_landmarks_batch`, everything built on it, and on
    the detection frames of :meth:`stream`; never when the caller gives boxes or ROIs):

    1. candidate instances, whose detection has ``needs_check`` set (from
       :class:`posekit.detect.tiled.TiledDetector`: found only on a tile, or scoring below its trusted score), go
       through :func:`posekit.detect.tiled.tile_false_positives` with ``tile_filter`` (on the 33 landmarks and
       their visibilities; the OKS uses the 17 with a COCO counterpart and COCO's sigmas; ``None`` = keep them
       all); trusted instances pass;
    2. every remaining instance goes through :func:`posekit.detect.duplicates.duplicate_poses` with
       ``duplicate_filter`` (on the 17 landmarks with a COCO counterpart; ``None`` = keep them all): a second,
       tangled skeleton on a person is dropped in favour of the better one, whether its detection was trusted or
       not. Instances in a conflict are looked at a second time (one extra landmark-model batch, crops at their
       own tracking ROIs) to measure their stability; the score is pose presence x stability.

    With :data:`MEDIAPIPE_EXACT` (no candidates, no duplicate filter) the result for every person MediaPipe's
    detector finds is MediaPipe's.
    """

    skeleton = blazepose33
    input_size = 256
    num_landmarks = 39
    default_box_scale = 1.25
    optional_fields = (("world_landmarks", (39, 3)), ("visibility", (39,)), ("presence", (39,)))

    def __init__(self, landmark_model: Callable, detector: Callable | None = None, *, kernel_size: int = 9,
                 min_confidence_to_refine: float = 0.5, tile_filter: TileFilter | None = TileFilter(),
                 duplicate_filter: DuplicateFilter | None = DuplicateFilter(), refine: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(landmark_model, detector, **kwargs)
        for name, value, kind in (("tile_filter", tile_filter, TileFilter),
                                  ("duplicate_filter", duplicate_filter, DuplicateFilter)):
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__module__}.{kind.__name__} or None, got "
                                f"{type(value).__name__}")
        self.kernel_size = int(kernel_size)
        self.min_confidence_to_refine = float(min_confidence_to_refine)
        self.tile_filter = tile_filter
        self.duplicate_filter = duplicate_filter
        if refine not in (None, True, False):
            raise TypeError(f"refine must be True, False or None, got {refine!r}")
        self.refine = refine

    def _plan(self, image: np.ndarray, boxes: Any, detections: Detections | None) -> tuple[Rois, np.ndarray]:
        """Box detectors and ``refine`` on top of the base planner (:func:`posekit.pipelines.blazepose_boxes.
        plan_rois`)."""
        return plan_rois(image, boxes, detections, plan=super()._plan, detect=self._detect,
                         refine=None if self.refine is False else self._refine_rois,
                         refine_only_box_detections=self.refine is None)

    def _refine_rois(self, image: np.ndarray, rois: Rois) -> Rois:
        """One landmark-model pass on ``rois`` (one batch) -> the ROIs of its alignment landmarks 33/34
        (:func:`posekit.pipelines.blazepose_boxes.refined_rois`)."""
        s = self.input_size
        crops = warp_perspective_exact(image, roi.crop_matrices(rois, (s, s)), (s, s))
        dec = self._decode(self._run_model(crops), rois)
        tracked = self._next_rois(dec.landmarks, rois.image_size)
        return refined_rois(rois, tracked)

    def _check(self, rgbs: list[np.ndarray], results: list[LandmarkResult], needs_check: list[np.ndarray | None]
               ) -> list[np.ndarray]:
        """The tile filter on candidates, then the duplicate filter on what is left (see the class docstring)."""
        keeps = [np.arange(len(r)) if nc is None else self._tile_keep(r, nc) for r, nc in zip(results, needs_check)]
        rules = self.duplicate_filter
        if rules is None:
            return keeps
        coco, conflicts = {}, {}
        for i, nc in enumerate(needs_check):
            if nc is not None and len(keeps[i]) > 1:
                coco[i] = (results[i].poses.keypoints[keeps[i]][:, _COCO17_SOURCE],
                           results[i].poses.scores[keeps[i]][:, _COCO17_SOURCE])
                conflicts[i] = pose_conflicts(*coco[i], sigmas=_COCO17_SIGMAS, links=coco17.links, rules=rules)
        todo = [i for i, c in conflicts.items() if c.any()]
        again = self._second_look([rgbs[i] for i in todo],
                                  [results[i].next_rois[keeps[i][conflicts[i]]] for i in todo])
        for i, second in zip(todo, again):
            (kp, vis), conflict = coco[i], conflicts[i]
            stability = np.ones(len(kp))  # poses in no conflict are neither dropped nor drop others
            stability[conflict] = pose_stability(kp[conflict], vis[conflict], second[:, _COCO17_SOURCE],
                                                 _COCO17_SIGMAS, visibility_threshold=rules.visibility_threshold)
            score = np.clip(results[i].instance_scores[keeps[i]], 0, 1) * stability
            drop = duplicate_poses(kp, vis, score, stability=stability, sigmas=_COCO17_SIGMAS, links=coco17.links,
                                   rules=rules)
            keeps[i] = keeps[i][~drop]
        return keeps

    def _tile_keep(self, result: LandmarkResult, needs_check: np.ndarray) -> np.ndarray:
        """Indices of the instances :func:`~posekit.detect.tiled.tile_false_positives` keeps (all without a
        ``tile_filter`` or a candidate)."""
        if self.tile_filter is None or not needs_check.any():
            return np.arange(len(result))
        sigmas, torso = _tile_filter_constants()
        poses = result.poses
        drop = tile_false_positives(poses.keypoints, poses.scores, needs_check, poses.image_size or
                                    result.rois.image_size, sigmas=sigmas, torso=torso, rules=self.tile_filter,
                                    presence=result.instance_scores)
        return np.flatnonzero(~drop)

    def _second_look(self, rgbs: list[np.ndarray], rois: list[Rois]) -> list[np.ndarray]:
        """The landmark model once more, on ``rois`` (one non-empty :class:`Rois` per image; all crops in one
        batch): (M, 33, 2) float32 image pixels per image, whatever the presence flag."""
        if not rois:
            return []
        s = self.input_size
        crops = [warp_perspective_exact(rgb, roi.crop_matrices(r, (s, s)), (s, s)) for rgb, r in zip(rgbs, rois)]
        outputs = self._run_model(np.concatenate(crops))
        out, start = [], 0
        for r in rois:
            dec = self._decode([o[start:start + len(r)] for o in outputs], r)
            out.append(dec.landmarks[:, :self.skeleton.num_keypoints, :2])
            start += len(r)
        return out

    def _rois_from_detections(self, detections: Detections, image_size: tuple[int, int]) -> Rois:
        kp = np.asarray(detections.keypoints, np.float64)
        if kp.shape[1] < 2:
            raise ValueError(f"pose detections need >= 2 keypoints (hip centre, scale point), got {kp.shape}")
        return _pose_rois(kp[:, 0], kp[:, 1], image_size)

    def _decode(self, outputs: list[np.ndarray], rois: Rois) -> DecodedLandmarks:
        return decode_pose_outputs(outputs, rois, input_size=self.input_size, kernel_size=self.kernel_size,
                                   min_confidence_to_refine=self.min_confidence_to_refine)

    def _next_rois(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> Rois:
        if len(landmarks) == 0:
            return Rois.empty(image_size)
        return _pose_rois(landmarks[:, 33, :2], landmarks[:, 34, :2], image_size)

    def _poses(self, dec: DecodedLandmarks, boxes: np.ndarray, image_size: tuple[int, int]) -> Poses:
        k = self.skeleton.num_keypoints
        return Poses(dec.landmarks[:, :k, :2], dec.visibility[:, :k], boxes, self.skeleton,
                     box_scores=np.clip(dec.instance_scores, 0, 1), keypoints_3d=dec.world_landmarks[:, :k],
                     image_size=image_size)


def _pose_rois(center: np.ndarray, scale: np.ndarray, image_size: tuple[int, int]) -> Rois:
    raw = roi.rois_from_alignment_points(center, scale, image_size, target_angle_deg=90.0)
    return roi.transform_rois(raw, scale=(1.25, 1.25), square_long=True)


def load_landmark_module(variant: str = "full") -> torch.nn.Module:
    """The converted BlazePose landmark network of ``variant`` (a key of :data:`VARIANTS`): ``full`` from the
    MediaPipe wheel (:func:`posekit.models.mediapipe_wheel.load_mediapipe_module`), ``heavy`` and ``lite`` from the
    ``@mediapipe/pose`` npm package (:func:`posekit.models.npm_models.load_npm_tflite_module`); fetched, verified
    and converted on first use, then cached."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if variant == "full":
        return load_mediapipe_module(POSE_LANDMARK_FULL)
    return load_npm_tflite_module(VARIANTS[variant])


def blazepose(variant: str = "full", *, device: str | torch.device = "cpu", detector: Callable | None = None,
              landmark_model: Callable | None = None, min_detection_score: float | None = 0.3, tiles: int = 2,
              refine: bool | None = None, precision: str = "fp32", compile: bool = False,
              channels_last: bool | None = None, backend: str = "torch", **kwargs: Any) -> BlazePoseEstimator:
    """BlazePose ``variant`` (``"full"``, ``"heavy"`` or ``"lite"``: the landmark network, :data:`VARIANTS`) with
    MediaPipe's pose detector (body boxes) or any person detector; models are loaded (converted from the cached
    MediaPipe wheel or npm package: :func:`posekit.detect.mediapipe.blazepose_detector`,
    :func:`load_landmark_module`) only when not given. :func:`blazepose_full`, :func:`blazepose_heavy` and
    :func:`blazepose_lite` are this builder; ``PoseEstimator.from_pretrained("blazepose_full")`` and every
    ``posekit`` command build it with these defaults.

    ``detector=None`` is MediaPipe's pose detector. The defaults look for every person: ``tiles=2`` also runs it on
    a 2 x 2 grid of overlapping tiles (one batch) to find small people, and ``min_detection_score=0.3`` keeps the
    weaker detections (people in a group often score 0.3-0.5). Detections found only that way are candidates
    (:class:`posekit.detect.tiled.TiledDetector`): they need the landmark model's presence flag and pass the
    estimator's ``tile_filter`` (default :class:`posekit.detect.tiled.TileFilter`; ``None`` keeps them all), while
    people found at 0.5 on the whole image keep MediaPipe's landmarks. Then ``duplicate_filter`` (default
    :class:`posekit.detect.duplicates.DuplicateFilter`; ``None`` keeps them all) drops second, tangled skeletons
    on a person found already (see :class:`BlazePoseEstimator`). On the 18 COCO images OpenPose ships with
    keypoints this finds 29 of the 44 people where MediaPipe's single pass finds 18 (``docs/results.md``).

    ``detector`` may instead be any :class:`posekit.detect.Detector` (``detector(rgb) -> Detections``, image
    pixels): a box detector (no keypoints, e.g. NanoDet, :class:`posekit.detect.FixedBoxes`) gives square box ROIs
    that ``refine`` re-crops once from the first landmarks (hip centre and full-body alignment point, as MediaPipe's
    tracking does), so every person it finds gets 33 landmarks and world landmarks; ``tiles`` and
    ``min_detection_score`` then change nothing. ``refine``: ``None`` (default) refines the ROIs of a box
    detector's boxes only; ``True`` also caller ``boxes=`` and MediaPipe detections; ``False`` never (one pass per
    person, as before). See :class:`BlazePoseEstimator`.

    ``**MEDIAPIPE_EXACT`` (``tiles=1, min_detection_score=0.5, duplicate_filter=None``) is the
    ``mp.solutions.pose``-exact setting (``variant="full"``, ``model_complexity=1``; ``"lite"`` and ``"heavy"``
    are complexities 0 and 2): MediaPipe's single detector pass at its own threshold, and MediaPipe's result for
    every person that pass finds (``mp.solutions.pose`` returns the first). It is also the cheapest (one detector
    input instead of five); ``tiles=1`` with the other defaults is a middle way. With caller ``boxes=`` or ROIs
    the detector does not run, so ``tiles`` and ``min_detection_score`` change nothing.

    ``compile`` and ``channels_last`` apply to both networks, ``precision`` to the landmark model only (the
    detector stays fp32; see :class:`MediaPipeLandmarkEstimator` and
    :class:`posekit.detect.mediapipe.MediaPipeDetector`). ``min_detection_score=None`` is the detector's own 0.5.

    ``backend`` runs both networks (``"torch"``, or ``"onnxruntime"``: each network exported to ONNX once, cached
    in ``<cache>/onnx``); the back end's own options among ``kwargs`` (e.g. ``intra_op_num_threads``,
    ``providers``, ``folder``, ``opset``) go to both runners (:func:`posekit.runtime.runner.make_runner`), the
    other ``kwargs`` (e.g. ``tile_filter``, ``duplicate_filter``, ``min_presence``) to
    :class:`BlazePoseEstimator`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    runtime, kwargs = mp_pipeline_options(f"blazepose_{variant}", backend, kwargs, device=device,
                                          precision=precision, compile=compile, channels_last=channels_last)
    lm_device = None if landmark_model is not None else device  # a given model runs where it is
    if landmark_model is None:
        landmark_model = load_landmark_module(variant)
    if detector is None:
        candidates = wants_candidates(tiles, min_detection_score, POSE_DETECTION_CONFIG.min_score)
        detector = blazepose_detector(device=device, min_score=min_detection_score,
                                      box="model" if candidates else "body", compile=compile,
                                      channels_last=channels_last, backend=backend, **runtime)
        if candidates:
            detector = TiledDetector(detector, grid=tiles, trusted_score=POSE_DETECTION_CONFIG.min_score)
    return BlazePoseEstimator(landmark_model, detector, device=lm_device, precision=precision, compile=compile,
                              channels_last=channels_last, backend=backend, refine=refine, **runtime, **kwargs)


def blazepose_full(**options: Any) -> BlazePoseEstimator:
    """BlazePose full (``pose_landmark_full``, MediaPipe's ``model_complexity=1``): :func:`blazepose` with
    ``variant="full"`` and the same ``options``."""
    return blazepose("full", **options)


def blazepose_heavy(**options: Any) -> BlazePoseEstimator:
    """BlazePose heavy (``pose_landmark_heavy`` from ``@mediapipe/pose``, ``model_complexity=2``; the most accurate,
    about 2.4x the full network's time: 78 vs 32 ms per crop on one CPU thread): :func:`blazepose` with
    ``variant="heavy"`` and the same ``options``."""
    return blazepose("heavy", **options)


def blazepose_lite(**options: Any) -> BlazePoseEstimator:
    """BlazePose lite (``pose_landmark_lite`` from ``@mediapipe/pose``, ``model_complexity=0``; the fastest, 25 ms
    per crop on one CPU thread):
    :func:`blazepose` with ``variant="lite"`` and the same ``options``."""
    return blazepose("lite", **options)
