"""MediaPipe's SSD detectors (BlazePose person, palm, short-range face) as posekit detectors.

The pipeline is MediaPipe 0.10.14's detection subgraph (``pose_detection_cpu.pbtxt``, ``palm_detection_cpu.pbtxt``,
``face_detection_short_range.pbtxt`` + ``face_detection.pbtxt``), step by step:

1. ``ImageToTensorCalculator`` with ``keep_aspect_ratio: true, border_mode: BORDER_ZERO``: the whole image is
   letterboxed into the square input (:func:`letterbox`); OpenCV-4's fixed-point bilinear warp is reproduced
   bit-exactly by :func:`posekit.warps.warp_perspective_exact` (independent of the installed OpenCV), then values are mapped to
   the model's range ([-1, 1] for pose and face, [0, 1] for palm).
2. The network, run by a :class:`~posekit.runtime.runner.Runner` on any back end (a converted TFLite ``nn.Module``
   on torch, or its ONNX export on ONNX Runtime: NCHW float32 in, ``(raw_boxes (B, N, C), raw_scores (B, N, 1))``
   out in TFLite layout).
3. ``TensorsToDetectionsCalculator`` + ``NonMaxSuppressionCalculator`` (WEIGHTED, IoU 0.3) from
   :mod:`posekit.detect.ssd`, then ``DetectionLetterboxRemovalCalculator`` (for the face model MediaPipe projects
   with the crop matrix instead, which is the same mapping for a full, unrotated image).

Differences from MediaPipe, on purpose: every detection above ``min_score`` that survives NMS is returned
(MediaPipe's pose and hand graphs keep only the first / ``num_hands``); ``max_detections`` caps the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import torch

from posekit.warps import warp_perspective_exact
from posekit.detect.boxes import check_image
from posekit.detect.ssd import AnchorOptions, DecodeOptions, decode_ssd, ssd_anchors, weighted_nms
from posekit.models.mediapipe_wheel import (
    FACE_DETECTION_SHORT_RANGE, PALM_DETECTION_FULL, PALM_DETECTION_LITE, POSE_DETECTION, TFLiteAsset,
    load_mediapipe_module,
)
from posekit.runtime.runner import InputSpec, check_options, make_runner
from posekit.runtime.torch_runner import EngineOptions
from posekit.types import Detections

__all__ = [
    "MediaPipeDetectorConfig", "MediaPipeDetector", "POSE_DETECTION_CONFIG", "PALM_DETECTION_FULL_CONFIG",
    "PALM_DETECTION_LITE_CONFIG", "FACE_DETECTION_SHORT_RANGE_CONFIG", "rect_matrix",
    "letterbox", "postprocess", "alignment_boxes", "mediapipe_detector", "blazepose_detector", "palm_detector",
    "face_detector",
]

Border = Literal["zero", "replicate"]


def rect_matrix(center: tuple[float, float], size: tuple[float, float], rotation: float,
                out_size: tuple[int, int]) -> np.ndarray:
    """(3, 3) float64 map from image pixels to tensor pixels for a rotated rectangle, as MediaPipe's OpenCV
    converter builds it: ``cv2.boxPoints`` of the rect (centre and size in pixels, ``rotation`` in radians,
    clockwise in the image) mapped onto the tensor corners with ``cv2.getPerspectiveTransform``."""
    f32 = np.float32
    angle = float(f32(np.float64(f32(rotation) * f32(180.0)) / np.pi))  # C++: float * 180.f / M_PI (double)
    cx, cy, w, h = (float(f32(v)) for v in (center[0], center[1], size[0], size[1]))
    src = cv2.boxPoints(((cx, cy), (w, h), angle))
    tw, th = (float(v) for v in out_size)
    dst = np.array([[0, th], [0, 0], [tw, 0], [tw, th]], np.float32)
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst)


def letterbox(image: np.ndarray, size: tuple[int, int], *, value_range: tuple[float, float] = (-1.0, 1.0)
              ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The whole image fitted into a ``size`` tensor keeping its aspect ratio, padded with zeros (MediaPipe's
    ``ImageToTensorCalculator`` with ``keep_aspect_ratio`` and ``BORDER_ZERO``; padding centred).

    Args:
        image: (H, W, 3) uint8 RGB.
        size: tensor ``(width, height)``.
        value_range: ``(min, max)`` that 0 and 255 map to.

    Returns:
        ``(tensor, padding)``: (height, width, 3) float32 in ``value_range``, and the letterbox padding
        ``(left, top, right, bottom)`` as fractions of the tensor width/height (the padded border is 0 before
        the value mapping, i.e. ``value_range[0]``).
    """
    check_image(image)
    f32 = np.float32
    h, w = image.shape[:2]
    tw, th = (int(v) for v in size)
    if tw <= 0 or th <= 0:
        raise ValueError(f"size must be a positive (width, height), got {size}")
    tensor_aspect = f32(th) / f32(tw)
    roi_aspect = f32(h) / f32(w)
    if tensor_aspect > roi_aspect:
        new_w, new_h = f32(w), f32(w) * tensor_aspect
        hpad, vpad = f32(0), (f32(1) - roi_aspect / tensor_aspect) / f32(2)
    else:
        new_w, new_h = f32(h) / tensor_aspect, f32(h)
        hpad, vpad = (f32(1) - tensor_aspect / roi_aspect) / f32(2), f32(0)
    matrix = rect_matrix((f32(0.5) * f32(w), f32(0.5) * f32(h)), (new_w, new_h), 0.0, (tw, th))
    warped = warp_perspective_exact(image, matrix[None], (tw, th), border="zero")[0]
    lo, hi = (f32(v) for v in value_range)
    scale = (hi - lo) / f32(255.0)
    tensor = warped.astype(f32) * scale + lo
    return tensor, (float(hpad), float(vpad), float(hpad), float(vpad))


@dataclass(frozen=True)
class MediaPipeDetectorConfig:
    """Everything MediaPipe's graph specifies around one SSD detector model.

    Attributes:
        name: the model's name (``pose_detection``, ...).
        anchors: ``SsdAnchorsCalculator`` options (``anchors.input_size`` is the model input size).
        decode: ``TensorsToDetectionsCalculator`` options.
        num_anchors: ``num_boxes`` of the graph (checked against the generated anchors).
        value_range: input value range (``output_tensor_float_range``).
        min_score: default ``min_score_thresh``.
        iou_threshold: ``min_suppression_threshold`` of the weighted NMS.
        output_indices: positions of (raw boxes, raw scores) in the model's outputs.
        alignment: ``(centre, scale)`` keypoint indices that span the object (pose: hip centre and the point
            encoding full-body size); used by ``box="body"``. ``None`` when the model has none.
    """

    name: str
    anchors: AnchorOptions
    decode: DecodeOptions
    num_anchors: int
    value_range: tuple[float, float]
    min_score: float = 0.5
    iou_threshold: float = 0.3
    output_indices: tuple[int, int] = (0, 1)
    alignment: tuple[int, int] | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(width, height)`` in pixels."""
        return self.anchors.input_size


def _config(name: str, size: int, strides: tuple[int, ...], num_keypoints: int, num_anchors: int,
            value_range: tuple[float, float], alignment: tuple[int, int] | None = None) -> MediaPipeDetectorConfig:
    anchors = AnchorOptions((size, size), strides, 0.1484375, 0.75, fixed_anchor_size=True)
    decode = DecodeOptions(num_keypoints, (float(size),) * 4, box_format="xywh")
    return MediaPipeDetectorConfig(name, anchors, decode, num_anchors, value_range, alignment=alignment)


#: ``pose_detection_cpu.pbtxt``; keypoints: hip centre, full-body size/rotation point, shoulder centre, upper-body
#: size/rotation point. The box is the *face* box. ``min_score`` 0.5 is ``mp.solutions.pose``'s
#: ``min_detection_confidence`` (the graph's own default is 0.2).
POSE_DETECTION_CONFIG = _config("pose_detection", 224, (8, 16, 32, 32, 32), 4, 2254, (-1.0, 1.0), alignment=(0, 1))
#: ``palm_detection_cpu.pbtxt`` (full, model complexity 1); 7 palm keypoints, 0 = wrist centre, 2 = middle MCP.
PALM_DETECTION_FULL_CONFIG = _config("palm_detection_full", 192, (8, 16, 16, 16), 7, 2016, (0.0, 1.0))
#: ``palm_detection_cpu.pbtxt`` (lite, model complexity 0): same graph numbers as the full model.
PALM_DETECTION_LITE_CONFIG = _config("palm_detection_lite", 192, (8, 16, 16, 16), 7, 2016, (0.0, 1.0))
#: ``face_detection_short_range.pbtxt`` + ``face_detection.pbtxt``; keypoints: right eye, left eye, nose tip,
#: mouth centre, right ear tragion, left ear tragion (the subject's right/left).
FACE_DETECTION_SHORT_RANGE_CONFIG = _config("face_detection_short_range", 128, (8, 16, 16, 16), 6, 896, (-1.0, 1.0))


def postprocess(raw_boxes: np.ndarray, raw_scores: np.ndarray, *, config: MediaPipeDetectorConfig,
                image_size: tuple[int, int], padding: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                min_score: float | None = None, max_detections: int | None = None,
                anchors: np.ndarray | None = None, box: Literal["model", "body"] = "model") -> Detections:
    """Raw outputs of one image -> :class:`~posekit.types.Detections` in image pixels.

    Args:
        raw_boxes: (N, C) or (1, N, C) regressors; raw_scores: (N, 1) or (1, N, 1) logits.
        config: the detector's configuration.
        image_size: the original image ``(width, height)`` in pixels.
        padding: letterbox ``(left, top, right, bottom)`` from :func:`letterbox`.
        min_score: score threshold (default ``config.min_score``); max_detections: keep at most this many.
        anchors: precomputed ``ssd_anchors(config.anchors)`` (computed when ``None``).
        box: ``"model"`` = the model's box (the face box for pose); ``"body"`` = the square centred on the
            alignment centre keypoint with half-side its distance to the scale keypoint (in pixels).

    Returns:
        Detections sorted by decreasing score: boxes (M, 4) xyxy pixels, keypoints (M, K, 2) pixels (x right,
        y down, origin at the image's top-left corner; may lie outside the image), labels 0.
    """
    anchors = ssd_anchors(config.anchors) if anchors is None else anchors
    raw_boxes, raw_scores = np.asarray(raw_boxes), np.asarray(raw_scores)
    n, c = len(anchors), config.decode.num_coords
    if raw_boxes.size != n * c or raw_scores.size == 0 or raw_scores.size % n:
        raise ValueError(f"{config.name}: raw_boxes must hold ({n}, {c}) and raw_scores ({n}, num_classes) values, "
                         f"got shapes {raw_boxes.shape} and {raw_scores.shape}")
    dec = decode_ssd(raw_boxes.reshape(1, n, c), raw_scores.reshape(1, n, -1), anchors, config.decode)
    boxes, scores, kpts = dec.boxes[0], dec.scores[0], dec.keypoints[0]
    thr = config.min_score if min_score is None else float(min_score)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = (scores >= thr) & (w >= 0) & (h >= 0)  # MediaPipe drops negative or NaN sizes (NaN compares false)
    boxes, scores, kpts, _ = weighted_nms(boxes[keep], scores[keep], keypoints=kpts[keep],
                                          iou_threshold=config.iou_threshold)
    if max_detections is not None:
        boxes, scores, kpts = boxes[:max_detections], scores[:max_detections], kpts[:max_detections]
    f32 = np.float32
    left, top, right, bottom = (f32(p) for p in padding)
    offset = np.array([left, top], f32)
    extent = np.array([f32(1) - (left + right), f32(1) - (top + bottom)], f32)
    size = np.array(image_size, np.float64)
    kpts = ((kpts - offset) / extent).astype(np.float64) * size
    corners = ((boxes.reshape(-1, 2, 2) - offset) / extent).astype(np.float64) * size
    boxes = corners.reshape(-1, 4)
    if box == "body":
        if config.alignment is None:
            raise ValueError(f"box='body' needs alignment keypoints; {config.name} has none (use box='model')")
        boxes = alignment_boxes(kpts, config.alignment)
    elif box != "model":
        raise ValueError(f"box must be 'model' or 'body', got {box!r}")
    return Detections(boxes.astype(f32), scores, np.zeros(len(scores), np.int64), kpts.astype(f32))


def alignment_boxes(keypoints: np.ndarray, alignment: tuple[int, int]) -> np.ndarray:
    """(N, 4) xyxy squares centred on keypoint ``alignment[0]`` with half-side its distance to keypoint
    ``alignment[1]`` (BlazePose's body extent), from (N, K, 2) detector keypoints in pixels."""
    c, s = alignment
    centre = keypoints[:, c]
    half = np.linalg.norm(keypoints[:, s] - centre, axis=-1)[:, None]
    return np.concatenate([centre - half, centre + half], axis=-1)


class MediaPipeDetector:
    """A MediaPipe SSD detector around a converted TFLite network, run by a :class:`~posekit.runtime.runner.Runner`.

    ``detector(image)`` takes an (H, W, 3) RGB uint8 array and returns :class:`~posekit.types.Detections` in image
    pixels (see :func:`postprocess`); :meth:`detect_batch` letterboxes several images and runs the network once.

    Args:
        module: the network: NCHW float32 ``(B, 3, H, W)`` in ``config.value_range`` -> tuple of outputs with
            raw boxes (B, N, C) and raw scores (B, N, 1) at ``config.output_indices``. A torch module (or an
            ``.onnx`` file, or a ready :class:`~posekit.runtime.runner.Runner`), run on ``backend``.
        config: e.g. :data:`POSE_DETECTION_CONFIG`.
        min_score: score threshold (default ``config.min_score``).
        max_detections: keep at most this many detections per image (default: all after NMS).
        box: ``"model"`` or ``"body"`` (see :func:`postprocess`).
        precision, compile, channels_last: engine options (:class:`posekit.runtime.torch_runner.EngineOptions`);
            defaults fp32, eager, ``channels_last=None`` = NHWC on CPU. Only ``precision="fp32"`` is offered:
            bf16 moves the pose detector's keypoints by ~1 px and adds or drops detections on 3 of 9 test
            images; float16 moves them by ~0.3 px, which moves visible BlazePose landmarks by up to 9.5 px
            through the ROI (``tests/pipelines/test_precision.py``).
        device: where the torch back end runs (default: where the module's parameters are).
        backend, backend_options: the runner's back end (``"torch"``, ``"onnxruntime"``) and its own options
            (e.g. ``intra_op_num_threads``); see :func:`posekit.runtime.runner.make_runner`.

    Attributes: ``module`` (the network as given), ``config``, ``runner``.
    """

    def __init__(self, module: Any, config: MediaPipeDetectorConfig, *, min_score: float | None = None,
                 max_detections: int | None = None, box: Literal["model", "body"] = "model",
                 precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                 device: str | torch.device | None = None, backend: str = "torch", **backend_options: Any) -> None:
        if box not in ("model", "body") or (box == "body" and config.alignment is None):
            raise ValueError(f"box must be 'model' or 'body' (body needs alignment keypoints; {config.name} "
                             f"has {config.alignment}), got {box!r}")
        if min_score is not None and not 0.0 <= float(min_score) <= 1.0:
            raise ValueError(f"min_score must lie in [0, 1], got {min_score}")
        if max_detections is not None and int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1 or None, got {max_detections}")
        if precision != "fp32":
            raise ValueError(f"precision={precision!r} is not offered for the MediaPipe detectors (only 'fp32'): "
                             "lower precision moves their keypoints (bf16 ~1 px, fp16 ~0.3 px), and through the "
                             "ROI the landmarks by pixels")
        anchors = ssd_anchors(config.anchors)
        if len(anchors) != config.num_anchors:
            raise ValueError(f"{config.name}: anchor options give {len(anchors)} anchors, "
                             f"expected {config.num_anchors}")
        # channels_last None: automatic (NHWC on CPU, about 2x faster there; see MediaPipeLandmarkEstimator)
        options = EngineOptions.for_network(module, device=device, precision=precision, compile=compile,
                                            channels_last=channels_last, batch_size=None)
        check_options(backend, options)
        width, height = config.input_size
        self.module = module
        self.runner = make_runner(module, backend=backend, options=options, name=config.name,
                                  input_spec=InputSpec.image(3, height, width),
                                  metadata={"posekit.network": "detector"}, **backend_options)
        self.config = config
        self.min_score = config.min_score if min_score is None else float(min_score)
        self.max_detections = None if max_detections is None else int(max_detections)
        self.box = box
        self.anchors = anchors
        self.anchors.setflags(write=False)

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([check_image(image)])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each of ``images`` ((H, W, 3) RGB uint8 arrays, any sizes), one network run."""
        return [levels[0] for levels in self.detect_batch_at(images, (self.min_score,))]

    def detect_batch_at(self, images: Sequence[np.ndarray], min_scores: Sequence[float]
                        ) -> list[tuple[Detections, ...]]:
        """One network run over ``images``, decoded once per score threshold in ``min_scores``: for each image a
        tuple of :class:`~posekit.types.Detections`, one per threshold. The weighted NMS blends every box above the
        threshold, so a detection found at 0.5 moves slightly when decoded at 0.3; this gives both exactly."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)
        images = [check_image(im, f"images[{i}]") for i, im in enumerate(images)]
        if not images:
            return []
        cfg = self.config
        boxed = [letterbox(im, cfg.input_size, value_range=cfg.value_range) for im in images]
        spec = self.runner.input_spec
        outputs = self.runner(spec.from_nhwc(np.stack([t for t, _ in boxed])))
        if len(outputs) <= max(cfg.output_indices):
            raise ValueError(f"{cfg.name} module must return a tuple of outputs with raw boxes and scores at "
                             f"{cfg.output_indices}, got {len(outputs)} output(s)")
        raw_boxes, raw_scores = (outputs[i] for i in cfg.output_indices)
        n, c = cfg.num_anchors, cfg.decode.num_coords
        if raw_boxes.size != len(images) * n * c or raw_scores.size % (len(images) * n):
            raise ValueError(f"{cfg.name} module outputs have shapes {raw_boxes.shape} and {raw_scores.shape}; "
                             f"expected ({len(images)}, {n}, {c}) and ({len(images)}, {n}, num_classes)")
        raw_boxes = raw_boxes.reshape(len(images), n, c)
        raw_scores = raw_scores.reshape(len(images), n, -1)
        return [
            tuple(postprocess(raw_boxes[i], raw_scores[i], config=cfg, image_size=(im.shape[1], im.shape[0]),
                              padding=pad, min_score=score, max_detections=self.max_detections,
                              anchors=self.anchors, box=self.box) for score in min_scores)
            for i, (im, (_, pad)) in enumerate(zip(images, boxed))
        ]


def mediapipe_detector(asset: TFLiteAsset, config: MediaPipeDetectorConfig, *, device: str | torch.device = "cpu",
                       backend: str = "torch", **options: Any) -> MediaPipeDetector:
    """A :class:`MediaPipeDetector` on the pinned MediaPipe network ``asset`` (e.g.
    :data:`posekit.models.mediapipe_wheel.POSE_DETECTION`), fetched and converted on first use by
    :func:`posekit.models.mediapipe_wheel.load_mediapipe_module`, run on ``device`` by ``backend``.

    ``config`` must describe the same network (``config.name == asset.name``, e.g. :data:`POSE_DETECTION_CONFIG`);
    ``options`` go to :class:`MediaPipeDetector` (``min_score``, ``max_detections``, ``box``, ``precision``,
    ``compile``, ``channels_last``, and the back end's own options such as ``intra_op_num_threads``)."""
    if not isinstance(asset, TFLiteAsset):
        raise TypeError(f"asset must be a posekit.models.mediapipe_wheel.TFLiteAsset, got {type(asset).__name__}")
    if not isinstance(config, MediaPipeDetectorConfig):
        raise TypeError(f"config must be a MediaPipeDetectorConfig, got {type(config).__name__}")
    if config.name != asset.name:
        raise ValueError(f"config {config.name!r} does not describe the network {asset.name!r} "
                         f"({asset.filename}); pass the config of the same model")
    check_options(backend, EngineOptions(device=device))  # refuse before converting the network
    return MediaPipeDetector(load_mediapipe_module(asset), config, device=device, backend=backend, **options)


def blazepose_detector(*, device: str | torch.device = "cpu", min_score: float | None = None,
                       max_detections: int | None = None, box: Literal["model", "body"] = "body",
                       compile: bool = False, channels_last: bool | None = None, backend: str = "torch",
                       **backend_options: Any) -> MediaPipeDetector:
    """BlazePose person detector (``pose_detection.tflite`` of mediapipe 0.10.14, fetched and converted on first
    use). ``box="body"`` (default) returns body boxes built from the alignment keypoints; ``"model"`` the face box.
    ``compile`` / ``channels_last``: engine options of :class:`MediaPipeDetector`; ``backend`` and
    ``backend_options``: its runner's."""
    return mediapipe_detector(POSE_DETECTION, POSE_DETECTION_CONFIG, device=device, min_score=min_score,
                              max_detections=max_detections, box=box, compile=compile, channels_last=channels_last,
                              backend=backend, **backend_options)


def palm_detector(*, variant: Literal["full", "lite"] = "full", device: str | torch.device = "cpu",
                  min_score: float | None = None, max_detections: int | None = None, backend: str = "torch",
                  **backend_options: Any) -> MediaPipeDetector:
    """MediaPipe palm detector (``palm_detection_full`` or ``palm_detection_lite``); boxes are palm boxes."""
    if variant not in ("full", "lite"):
        raise ValueError(f"variant must be 'full' or 'lite', got {variant!r}")
    asset, config = ((PALM_DETECTION_FULL, PALM_DETECTION_FULL_CONFIG) if variant == "full"
                     else (PALM_DETECTION_LITE, PALM_DETECTION_LITE_CONFIG))
    return mediapipe_detector(asset, config, device=device, min_score=min_score, max_detections=max_detections,
                              backend=backend, **backend_options)


def face_detector(*, device: str | torch.device = "cpu", min_score: float | None = None,
                  max_detections: int | None = None, backend: str = "torch",
                  **backend_options: Any) -> MediaPipeDetector:
    """MediaPipe short-range face detector (``face_detection_short_range``, faces within ~2 m)."""
    return mediapipe_detector(FACE_DETECTION_SHORT_RANGE, FACE_DETECTION_SHORT_RANGE_CONFIG, device=device,
                              min_score=min_score, max_detections=max_detections, backend=backend,
                              **backend_options)
