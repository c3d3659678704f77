"""MediaPipe 0.10.14 landmark pipelines in PyTorch: the shared machinery here; BlazePose (33 keypoints + world
landmarks) in :mod:`posekit.pipelines.mediapipe_pose`, hands in :mod:`posekit.pipelines.mediapipe_hand`, face mesh in
:mod:`posekit.pipelines.mediapipe_face`.

Each pipeline is detector -> rotated ROI (:mod:`posekit.pipelines.roi`) -> crop -> landmark model -> decode ->
projection back to the image, with MediaPipe's constants. Differences from MediaPipe, by design:

* every instance the detector finds is processed (MediaPipe's pose graph keeps only the first), and the crops of
  all instances (and, with :meth:`MediaPipeLandmarkEstimator.predict_landmarks_batch`, of all images) run through the
  landmark model in one batch;
* no landmark smoothing filter in :meth:`~MediaPipeLandmarkEstimator.stream` (see :mod:`posekit.track`).

Pixel coordinates are MediaPipe's normalised coordinates times the image size (what ``mp.solutions`` users
compute), with no half-pixel shift.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from posekit.boxes import box_iou, check_boxes
from posekit.io.image import load_image
from posekit.warps import warp_perspective_exact
from posekit.pipelines import roi
from posekit.pipelines.roi import Rois
from posekit.pipelines.base import PoseEstimator
from posekit.runtime.runner import InputSpec, check_options, make_runner, split_backend_options
from posekit.runtime.torch_runner import EngineOptions
from posekit.skeletons import Skeleton
from posekit.types import Detections, Poses

__all__ = ["DecodedLandmarks", "LandmarkResult", "MediaPipeLandmarkEstimator"]

_F = np.float32
_BF16_REFUSED = ("precision='bf16' is not offered for the MediaPipe pipelines: bfloat16 moves BlazePose landmarks by "
                 "5.5 px (median, 23 px max) against fp32 (tests/pipelines/test_precision.py); use 'fp32', or "
                 "'fp16' on CUDA")


def mp_pipeline_options(model: str, backend: str, kwargs: dict[str, Any], *, device: Any = "cpu",
                        precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checks the MediaPipe builders make before loading any network, and their ``kwargs`` split into
    ``(back-end options, estimator options)`` (:func:`posekit.runtime.runner.split_backend_options`)."""
    if "weights" in kwargs:
        raise ValueError(f"{model} takes its weights from the MediaPipe wheel (heavy/lite: @mediapipe/pose); weights= is "
                         "for top-down models")
    check_options(backend, EngineOptions(device=device, precision=precision, compile=compile,
                                         channels_last=channels_last))
    if precision == "bf16":
        raise ValueError(_BF16_REFUSED)
    return split_backend_options(backend, kwargs)


@dataclass(frozen=True)
class DecodedLandmarks:
    """The decoded landmark-model outputs of B crops (K model landmarks), before ``min_presence`` filtering: what
    :meth:`MediaPipeLandmarkEstimator._decode` and the ``decode_*_outputs`` functions
    (:func:`~posekit.pipelines.mediapipe_pose.decode_pose_outputs`,
    :func:`~posekit.pipelines.mediapipe_hand.decode_hand_outputs`,
    :func:`~posekit.pipelines.mediapipe_face.decode_face_outputs`) return. All arrays are float32.

    Attributes:
        landmarks: (B, K, 3) image frame: x, y pixels (x right, y down, MediaPipe's normalised coordinates times
            the image size, no half-pixel shift); z MediaPipe's relative depth scaled to pixels like x (smaller =
            closer to the camera).
        instance_scores: (B,) the model's presence probability in [0, 1] (pose_flag and hand flag as the model
            outputs them, already a sigmoid; the face flag's logit through a sigmoid). Instances are kept when it
            is above ``min_presence``.
        world_landmarks: (B, K, 3) metres, ROI rotation undone (hip-centred for pose, hand-centred for hands;
            x right, y down, z away from the camera), or None (face).
        visibility: (B, K) sigmoid in [0, 1] or None (pose only).
        presence: (B, K) sigmoid in [0, 1] or None (pose only).
        handedness: (B,) or None (hands only): probability of MediaPipe's label "Right" (mirrored-image
            convention).
        normalized: (B, K, 5) or None (pose only): MediaPipe's image-normalised landmarks
            (x / W, y / H, z / W, visibility, presence).
    """

    landmarks: np.ndarray
    instance_scores: np.ndarray
    world_landmarks: np.ndarray | None = None
    visibility: np.ndarray | None = None
    presence: np.ndarray | None = None
    handedness: np.ndarray | None = None
    normalized: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.instance_scores)

    def select(self, index: np.ndarray) -> DecodedLandmarks:
        """The instances ``index`` ((M,) int) as a new :class:`DecodedLandmarks` (arrays copied by indexing)."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return DecodedLandmarks(
            landmarks=self.landmarks[index], instance_scores=self.instance_scores[index],
            world_landmarks=pick(self.world_landmarks), visibility=pick(self.visibility),
            presence=pick(self.presence), handedness=pick(self.handedness), normalized=pick(self.normalized),
        )


@dataclass(frozen=True)
class LandmarkResult:
    """Everything a MediaPipe landmark pipeline found in one image (N instances, L model landmarks).

    Attributes:
        poses: :class:`~posekit.types.Poses` with the skeleton's keypoints (see each estimator for ``scores``,
            ``boxes``, ``box_scores`` and ``keypoints_3d``).
        rois: the N rotated ROIs the landmark model ran on.
        landmarks: (N, L, 3) float32 all model landmarks (BlazePose: 39 incl. the 6 auxiliary ones): x, y image
            pixels; z MediaPipe's relative depth scaled to pixels like x (smaller = closer to the camera).
        world_landmarks: (N, L, 3) float32 metres (hip-centred for pose, hand-centred for hands) or None.
        visibility: (N, L) float32 in [0, 1] or None (pose only).
        presence: (N, L) float32 in [0, 1] or None (pose only).
        instance_scores: (N,) float32 the model's presence flag (pose_flag, hand flag, face flag).
        handedness: (N,) float32 or None (hands): probability of MediaPipe's label "Right", which assumes a
            mirrored (selfie) image; for an unmirrored camera image it is the probability of a left hand.
        next_rois: (N) ROIs derived from the landmarks for the next video frame (tracking).
        track_ids: (N,) int64 or None (set by :meth:`MediaPipeLandmarkEstimator.stream`).
    """

    poses: Poses
    rois: Rois
    landmarks: np.ndarray
    instance_scores: np.ndarray
    next_rois: Rois
    world_landmarks: np.ndarray | None = None
    visibility: np.ndarray | None = None
    presence: np.ndarray | None = None
    handedness: np.ndarray | None = None
    track_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.poses)

    def select(self, index: np.ndarray) -> LandmarkResult:
        """The instances ``index`` ((M,) int) as a new result (arrays copied by indexing)."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return replace(
            self, poses=self.poses[index], rois=self.rois[index], landmarks=self.landmarks[index],
            instance_scores=self.instance_scores[index], next_rois=self.next_rois[index],
            world_landmarks=pick(self.world_landmarks), visibility=pick(self.visibility),
            presence=pick(self.presence), handedness=pick(self.handedness), track_ids=pick(self.track_ids),
        )


def _needs_check(detections: Detections) -> np.ndarray:
    """(N,) bool ``detections.needs_check`` (all False when the detector does not set it)."""
    if detections.needs_check is None:
        return np.zeros(len(detections), bool)
    return np.asarray(detections.needs_check, bool)


class MediaPipeLandmarkEstimator(PoseEstimator):
    """Shared machinery: ROIs -> crops -> one batched landmark-model call -> decode. Subclasses set the constants
    and implement ``_rois_from_detections``, ``_decode`` (model outputs -> :class:`DecodedLandmarks`),
    ``_poses`` (kept :class:`DecodedLandmarks` -> :class:`~posekit.types.Poses`) and ``_next_rois``.

    The landmark network runs in a :class:`~posekit.runtime.runner.Runner` (``self.runner``) built by
    :func:`posekit.runtime.runner.make_runner` on ``backend``; this class only prepares its NumPy input (crops as
    float32 in [0, 1]) and decodes its NumPy outputs, whatever the back end.

    Args:
        landmark_model: the network taking (B, 3, S, S) float32 RGB in [0, 1] (NCHW) and returning the TFLite
            outputs in TFLite order and layout: a torch module (e.g. from :func:`posekit.models.tflite.build_module`)
            or other callable on torch tensors, an ``.onnx`` file for ``backend="onnxruntime"``, or a ready
            :class:`~posekit.runtime.runner.Runner`.
        detector: callable ``detector(rgb_uint8_image) -> Detections`` with keypoints; may be None when only
            ``boxes=``/``detections=`` are used.
        min_presence: instances whose presence flag is not above this are dropped (MediaPipe's
            ``ThresholdingCalculator``, ``flag > threshold``).
        box_scale: enlargement of a caller's box (``boxes=``) into a square, unrotated ROI.
        batch_size: at most this many crops per model call (None = all at once).
        precision: ``"fp32"`` (default, MediaPipe parity) or ``"fp16"`` (CUDA only, landmark model only; float16
            numerics move the visible BlazePose landmarks of the astronaut fixture by < 0.2 px for the same ROI;
            the detectors stay fp32). ``"bf16"`` is refused: its 8-bit
            mantissa moves BlazePose landmarks by 5.5 px (median; 23 px max) against fp32 on that fixture, because
            the model regresses crop coordinates (up to 256) directly (``tests/pipelines/test_precision.py``).
        compile: run the landmark model through :func:`torch.compile` (needs an ``nn.Module``).
        channels_last: NHWC memory format for the landmark model and its input; ``None`` (default) = on for
            CPU modules (about 2x faster there). The landmark model alone moves by <= 0.002 px in channels_last.
            With the detector in channels_last too, a few landmarks move by up to ~4 px on some images (detector
            keypoints round differently in the last float bits, which moves the ROI); against MediaPipe's own
            output the agreement is unchanged (8 COCO images, visible landmarks: median 0.005 px, max 3.7 px in
            both layouts), and the fixture parity tests pass in both.
        device: where the torch back end runs the model (default: where its parameters are).
        backend, backend_options: the runner's back end (``"torch"``, ``"onnxruntime"``) and its own options
            (e.g. ``intra_op_num_threads``, ``folder``); see :func:`posekit.runtime.runner.make_runner`.
    """

    skeleton: Skeleton
    input_size: int
    num_landmarks: int
    default_box_scale: float = 1.25
    #: optional :class:`LandmarkResult` fields this pipeline fills, as (name, per-instance shape) pairs
    optional_fields: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __init__(
        self, landmark_model: Any, detector: Callable | None = None, *, min_presence: float = 0.5,
        box_scale: float | None = None, batch_size: int | None = None, precision: str = "fp32",
        compile: bool = False, channels_last: bool | None = None, device: str | torch.device | None = None,
        backend: str = "torch", **backend_options: Any,
    ) -> None:
        if not callable(landmark_model) and not isinstance(landmark_model, (str, os.PathLike)):
            raise TypeError(f"landmark_model must be callable (a torch module, a runner) or a file its back end "
                            f"reads, got {type(landmark_model).__name__}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
        if precision == "bf16":
            raise ValueError(_BF16_REFUSED)
        # channels_last None: automatic, on for CPU convolutional modules (all of MediaPipe's; oneDNN's depthwise
        # convolutions are ~2x faster in NHWC)
        options = EngineOptions.for_network(landmark_model, device=device, precision=precision, compile=compile,
                                            channels_last=channels_last, batch_size=batch_size)
        self.landmark_model = landmark_model
        self.runner = make_runner(landmark_model, backend=backend, options=options,
                                  input_spec=InputSpec.image(3, self.input_size, self.input_size),
                                  metadata={"posekit.network": "landmark"}, **backend_options)
        self.detector = detector
        self.min_presence = float(min_presence)
        self.box_scale = float(self.default_box_scale if box_scale is None else box_scale)
        self.batch_size = batch_size

    # -- subclass hooks -------------------------------------------------------------------------------------
    def _rois_from_detections(self, detections: Detections, image_size: tuple[int, int]) -> Rois:
        raise NotImplementedError

    def _decode(self, outputs: list[np.ndarray], rois: Rois) -> DecodedLandmarks:
        raise NotImplementedError

    def _next_rois(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> Rois:
        raise NotImplementedError

    def _poses(self, dec: DecodedLandmarks, boxes: np.ndarray, image_size: tuple[int, int]) -> Poses:
        raise NotImplementedError

    # -- ROIs -----------------------------------------------------------------------------------------------
    def rois_from_boxes(self, boxes: np.ndarray, image_size: tuple[int, int]) -> Rois:
        """Square, unrotated ROIs around caller boxes ((N, 4) xyxy pixels): long side x ``box_scale``."""
        raw = roi.rois_from_boxes(boxes, image_size)
        return roi.transform_rois(raw, scale=(self.box_scale, self.box_scale), square_long=True)

    def _detect(self, image: np.ndarray) -> Detections:
        if self.detector is None:
            raise ValueError(f"{type(self).__name__} has no detector: pass boxes= or detections=")
        dets = self.detector(image)
        if not isinstance(dets, Detections):
            raise TypeError(f"detector must return posekit Detections, got {type(dets).__name__}")
        return dets

    def _plan(self, image: np.ndarray, boxes: Any, detections: Detections | None) -> tuple[Rois, np.ndarray]:
        """ROIs and the boxes reported with them, from boxes, given detections or the detector."""
        size = (image.shape[1], image.shape[0])
        if boxes is not None:
            b = check_boxes(np.asarray(boxes, np.float32).reshape(-1, 4))  # a zero-size box has no ROI
            return self.rois_from_boxes(b, size), b
        dets = self._detect(image) if detections is None else detections
        if len(dets) == 0:
            return Rois.empty(size), np.zeros((0, 4), _F)
        if dets.keypoints is None:
            raise ValueError(f"{type(self).__name__} needs detections with keypoints (MediaPipe alignment points)")
        return self._rois_from_detections(dets, size), np.asarray(dets.boxes, _F)

    # -- model ----------------------------------------------------------------------------------------------
    def _run_model(self, crops: np.ndarray) -> list[np.ndarray]:
        """(B, S, S, 3) uint8 crops -> model outputs as float32 NumPy arrays with batch B (the runner splits the
        batch by ``batch_size``)."""
        x = np.multiply(crops, _F(1.0 / 255.0), dtype=_F)  # MediaPipe's convertTo: x / 255 in float32
        return list(self.runner(self.runner.input_spec.from_nhwc(x)))

    # -- public API -----------------------------------------------------------------------------------------
    def predict_landmarks(
        self, image: Any, *, boxes: np.ndarray | None = None, detections: Detections | None = None,
        rois: Rois | None = None,
    ) -> LandmarkResult:
        """Full result for one image. Exactly one source of ROIs is used: ``rois`` (e.g. from the previous
        frame), else ``boxes`` ((N, 4) xyxy pixels), else ``detections`` (with keypoints, image pixels), else
        the detector."""
        return self.predict_landmarks_batch([image], boxes=None if boxes is None else [boxes],
                                            detections=None if detections is None else [detections],
                                            rois=None if rois is None else [rois])[0]

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        return self.predict_landmarks(image, boxes=boxes).poses

    def predict_batch(self, images: Sequence[Any], *, boxes: Sequence[Any] | None = None) -> list[Poses]:
        """Poses of several images with all crops in one landmark-model batch (see
        :meth:`predict_landmarks_batch`)."""
        return [result.poses for result in self.predict_landmarks_batch(images, boxes=boxes)]

    def track_frames(self, frames: Iterable[np.ndarray], *, redetect_every: int | None = None) -> Iterator[Poses]:
        """The video runner's tracking mode: :meth:`stream` (ROIs from the previous frame's landmarks)."""
        for result in self.stream(frames, redetect_interval=redetect_every):
            yield result.poses

    def predict_landmarks_batch(
        self, images: Sequence[Any], *, boxes: Sequence[Any] | None = None,
        detections: Sequence[Detections] | None = None, rois: Sequence[Rois] | None = None,
    ) -> list[LandmarkResult]:
        """:meth:`predict_landmarks` for several images with all crops in one landmark-model batch (per
        ``batch_size``). ``boxes``/``detections``/``rois``, when given, hold one entry per image."""
        rgbs = [load_image(im) for im in images]
        for name, seq in (("boxes", boxes), ("detections", detections), ("rois", rois)):
            if seq is not None and len(seq) != len(rgbs):
                raise ValueError(f"{name} must hold one entry per image ({len(rgbs)}), got {len(seq)}")
        plans, dets = [], []
        for i, rgb in enumerate(rgbs):
            d = None
            if rois is not None:
                r = rois[i]
                plans.append((r, r.bounds_px()))
            elif boxes is not None:
                plans.append(self._plan(rgb, boxes[i], None))
            else:
                d = self._detect(rgb) if detections is None else detections[i]
                plans.append(self._plan(rgb, None, d))
            dets.append(d)
        results = self._predict_plans(rgbs, plans)
        needs = [None if d is None else _needs_check(d)[keep] for (_, keep), d in zip(results, dets)]
        kept = self._check(rgbs, [res for res, _ in results], needs)
        return [res if len(k) == len(res) else res.select(k) for (res, _), k in zip(results, kept)]

    def _check(self, rgbs: list[np.ndarray], results: list[LandmarkResult], needs_check: list[np.ndarray | None]
               ) -> list[np.ndarray]:
        """Hook: which instances of each image's result to keep ((M,) int64 indices, increasing), after the
        detector found them: ``needs_check`` holds (N,) bool per result (True = a candidate detection, see
        :class:`posekit.detect.tiled.TiledDetector`), or None where the caller gave boxes or ROIs (then nothing
        is checked). Runs in :meth:`predict_landmarks_batch` and on the detection frames of :meth:`stream`. The
        base class keeps everything."""
        return [np.arange(len(r)) for r in results]

    def _predict_plans(self, rgbs: list[np.ndarray], plans: list[tuple[Rois, np.ndarray]]
                       ) -> list[tuple[LandmarkResult, np.ndarray]]:
        """Crop every plan's ROIs, run the model once, decode; also returns each image's kept ROI indices."""
        s = self.input_size
        crops = [warp_perspective_exact(rgb, roi.crop_matrices(r, (s, s)), (s, s)) for rgb, (r, _) in zip(rgbs, plans)]
        counts = [len(c) for c in crops]
        outputs = self._run_model(np.concatenate(crops)) if sum(counts) else None
        results, start = [], 0
        for rgb, (r, b), n in zip(rgbs, plans, counts):
            part = None if outputs is None else [o[start:start + n] for o in outputs]
            results.append(self._result(part, r, b, (rgb.shape[1], rgb.shape[0])))
            start += n
        return results

    def _result(self, outputs: list[np.ndarray] | None, rois: Rois, boxes: np.ndarray,
                size: tuple[int, int]) -> tuple[LandmarkResult, np.ndarray]:
        if outputs is None or len(rois) == 0:
            empty = Rois.empty(size)
            extra = {k: np.zeros((0, *shape), _F) for k, shape in self.optional_fields}
            return LandmarkResult(Poses.empty(self.skeleton, image_size=size), empty,
                                  np.zeros((0, self.num_landmarks, 3), _F), np.zeros(0, _F), empty,
                                  **extra), np.zeros(0, np.int64)
        dec = self._decode(outputs, rois)
        keep = np.flatnonzero(dec.instance_scores > self.min_presence)
        dec = dec.select(keep)
        rois = rois[keep]
        poses = self._poses(dec, np.asarray(boxes, _F).reshape(-1, 4)[keep], size)
        result = LandmarkResult(
            poses=poses, rois=rois, landmarks=dec.landmarks, instance_scores=dec.instance_scores,
            next_rois=self._next_rois(dec.landmarks, size), world_landmarks=dec.world_landmarks,
            visibility=dec.visibility, presence=dec.presence, handedness=dec.handedness,
        )
        return result, keep

    def stream(self, frames: Iterable[Any], *, redetect_interval: int | None = None,
               max_overlap: float = 0.5) -> Iterator[LandmarkResult]:
        """Video mode: each frame reuses the previous frame's landmarks to place the ROIs (MediaPipe's tracking);
        the detector runs when no instance is being tracked (every instance's presence fell to
        ``min_presence`` or below) and, when ``redetect_interval`` is set, every that many frames to pick up new
        people (a detection whose ROI bound overlaps a tracked one by IoU > ``max_overlap`` is ignored). On the
        frames where the detector ran, the instances go through the same checks as in
        :meth:`predict_landmarks_batch` (``_check``; tracked ones count as trusted detections).
        Results carry persistent ``track_ids`` (also in ``poses.track_ids``). State lives in this generator."""
        tracked, ids, next_id = None, np.zeros(0, np.int64), 0
        for index, frame in enumerate(frames):
            rgb = load_image(frame)
            size = (rgb.shape[1], rgb.shape[0])
            if tracked is not None and tracked.image_size != size:
                tracked, ids = None, np.zeros(0, np.int64)
            redetect = tracked is None or len(tracked) == 0 or (
                redetect_interval is not None and index % redetect_interval == 0)
            rois = tracked if tracked is not None else Rois.empty(size)
            boxes = rois.bounds_px()  # tracked instances report their ROI's bound
            needs = np.zeros(len(rois), bool)  # tracked instances are trusted
            if redetect:
                dets = self._detect(rgb)
                new, new_boxes = self._plan(rgb, None, dets)
                candidate = _needs_check(dets)
                if len(rois) and len(new):
                    fresh = box_iou(new.bounds_px(), rois.bounds_px(), dtype=_F).max(1) <= max_overlap
                    new, new_boxes, candidate = new[fresh], new_boxes[fresh], candidate[fresh]
                rois = Rois.concat([rois, new], size)
                boxes = np.concatenate([boxes, new_boxes]).astype(_F)
                needs = np.concatenate([needs, candidate])
                ids = np.concatenate([ids, np.arange(next_id, next_id + len(new), dtype=np.int64)])
                next_id += len(new)
            result, kept = self._predict_plans([rgb], [(rois, boxes)])[0]
            ids = ids[kept]
            if redetect:
                keep = self._check([rgb], [result], [needs[kept]])[0]
                if len(keep) < len(result):
                    result, ids = result.select(keep), ids[keep]
            tracked = result.next_rois
            yield replace(result, track_ids=ids.copy(), poses=replace(result.poses, track_ids=ids.copy()))
