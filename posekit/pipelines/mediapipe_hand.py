"""MediaPipe 0.10.14 hand landmarks (21 keypoints, handedness, world landmarks) on every palm the detector finds.

Constants from ``palm_detection_detection_to_roi.pbtxt`` (box centre/size, rotation wrist centre (keypoint 0) ->
middle-finger MCP (keypoint 2) with target 90 degrees, scale 2.6, shift_y -0.5, square_long),
``hand_landmark_cpu.pbtxt`` (224 x 224 crop, input in [0, 1], 21 landmarks, ``normalize_z: 0.4``, hand flag
threshold 0.5, binary handedness) and ``hand_landmark_landmarks_to_roi.pbtxt`` (tracking: palm landmarks ->
``HandLandmarksToRectCalculator``, scale 2.0, shift_y -0.1, square_long).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from posekit.pipelines import roi
from posekit.pipelines.roi import Rois
from posekit.detect.mediapipe import palm_detector
from posekit.models.mediapipe_wheel import HAND_LANDMARK_FULL, HAND_LANDMARK_LITE, load_mediapipe_module
from posekit.pipelines.mediapipe import DecodedLandmarks, MediaPipeLandmarkEstimator, mp_pipeline_options
from posekit.skeletons import hand21
from posekit.types import Detections, Poses

__all__ = ["MediaPipeHandEstimator", "decode_hand_outputs", "mediapipe_hand"]

_F = np.float32


def decode_hand_outputs(outputs: Sequence[np.ndarray], rois: Rois, *, input_size: int = 224,
                        normalize_z: float = 0.4) -> DecodedLandmarks:
    """Decode hand landmark outputs (TFLite order: landmarks (B, 63), hand flag (B, 1), handedness (B, 1),
    world landmarks (B, 63)) for the B ROIs they came from.

    Returns :class:`~posekit.pipelines.mediapipe.DecodedLandmarks` (float32): ``landmarks`` (B, 21, 3) image
    pixels (z scaled like x), ``world_landmarks`` (B, 21, 3) metres with the ROI rotation undone,
    ``instance_scores`` (B,) hand presence (the model's flag as it outputs it), ``handedness`` (B,) probability of
    MediaPipe's label "Right" (mirrored-image convention); ``visibility``, ``presence`` and ``normalized`` are
    None.
    """
    n = len(rois)
    raw = np.asarray(outputs[0], _F).reshape(n, -1, 3)
    xyz = np.concatenate([raw[..., :2] / _F(input_size), raw[..., 2:] / _F(input_size) / _F(normalize_z)], -1)
    world = np.asarray(outputs[3], _F).reshape(n, -1, 3)
    return DecodedLandmarks(
        landmarks=roi.project_landmarks(xyz, rois),
        world_landmarks=roi.rotate_world_landmarks(world, rois),
        instance_scores=np.asarray(outputs[1], _F).reshape(n),
        handedness=np.asarray(outputs[2], _F).reshape(n),
    )


class MediaPipeHandEstimator(MediaPipeLandmarkEstimator):
    """MediaPipe hand landmarks on every detected palm, all crops in one batch.

    ``poses`` of the result: ``keypoints`` (N, 21, 2) image pixels (:data:`posekit.skeletons.hand21` order);
    ``scores`` = the hand presence flag repeated for every keypoint (the model has no per-keypoint confidence);
    ``keypoints_3d`` = world landmarks (N, 21, 3) metres, origin near the hand's centre; ``boxes`` = the palm
    detection box (or the caller's box, or the ROI's axis-aligned bound for given/tracked ROIs); ``box_scores``
    = hand presence. Handedness is in :attr:`LandmarkResult.handedness` (it does not fit
    :class:`~posekit.types.Poses`). A caller's box (``boxes=``) should enclose the whole hand; it becomes a
    square, unrotated ROI of side ``box_scale`` (1.5) x its long side.
    """

    skeleton = hand21
    input_size = 224
    num_landmarks = 21
    default_box_scale = 1.5
    optional_fields = (("world_landmarks", (21, 3)), ("handedness", ()))

    def _rois_from_detections(self, detections: Detections, image_size: tuple[int, int]) -> Rois:
        kp = np.asarray(detections.keypoints, np.float64)
        if kp.shape[1] < 3:
            raise ValueError(f"palm detections need >= 3 keypoints (wrist centre, ..., middle MCP), got {kp.shape}")
        raw = roi.rois_from_boxes(detections.boxes, image_size, rotation_points=kp[:, [0, 2]],
                                   target_angle_deg=90.0)
        return roi.transform_rois(raw, scale=(2.6, 2.6), shift=(0.0, -0.5), square_long=True)

    def _decode(self, outputs: list[np.ndarray], rois: Rois) -> DecodedLandmarks:
        return decode_hand_outputs(outputs, rois, input_size=self.input_size)

    def _next_rois(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> Rois:
        if len(landmarks) == 0:
            return Rois.empty(image_size)
        raw = roi.hand_rois_from_landmarks(landmarks[..., :2], image_size)
        return roi.transform_rois(raw, scale=(2.0, 2.0), shift=(0.0, -0.1), square_long=True)

    def _poses(self, dec: DecodedLandmarks, boxes: np.ndarray, image_size: tuple[int, int]) -> Poses:
        flag = np.clip(dec.instance_scores, 0, 1)
        k = self.skeleton.num_keypoints
        return Poses(dec.landmarks[..., :2], np.repeat(flag[:, None], k, 1), boxes, self.skeleton,
                     box_scores=flag, keypoints_3d=dec.world_landmarks, image_size=image_size)


def mediapipe_hand(*, variant: Literal["full", "lite"] = "full", device: str | torch.device = "cpu",
                   detector: Callable | None = None, landmark_model: Callable | None = None,
                   min_detection_score: float | None = None, backend: str = "torch",
                   **kwargs: Any) -> MediaPipeHandEstimator:
    """MediaPipe hands: palm detector (:func:`posekit.detect.mediapipe.palm_detector`) + ``hand_landmark_{variant}``
    (palm detector of the same variant), converted from the cached MediaPipe wheel on first use unless given.
    ``backend`` runs both networks; its own options among ``kwargs`` go to both runners, the others to
    :class:`MediaPipeHandEstimator` (see :func:`posekit.pipelines.mediapipe_pose.blazepose_full`)."""
    if variant not in ("full", "lite"):
        raise ValueError(f"variant must be 'full' or 'lite', got {variant!r}")
    runtime, kwargs = mp_pipeline_options(f"mediapipe_hand_{variant}", backend, kwargs, device=device,
                                          precision=kwargs.get("precision", "fp32"),
                                          compile=kwargs.get("compile", False),
                                          channels_last=kwargs.get("channels_last"))
    lm_device = None if landmark_model is not None else device  # a given model runs where it is
    if landmark_model is None:
        asset = HAND_LANDMARK_FULL if variant == "full" else HAND_LANDMARK_LITE
        landmark_model = load_mediapipe_module(asset)
    if detector is None:
        detector = palm_detector(variant=variant, device=device, min_score=min_detection_score, backend=backend,
                                 **runtime)
    return MediaPipeHandEstimator(landmark_model, detector, device=lm_device, backend=backend, **runtime, **kwargs)
