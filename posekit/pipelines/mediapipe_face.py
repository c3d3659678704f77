"""MediaPipe 0.10.14 face mesh (468 landmarks) on every face the short-range face detector finds.

Constants from ``face_detection_front_detection_to_roi.pbtxt`` (box centre/size, rotation eye (keypoint 0) ->
eye (keypoint 1) with target 0 degrees, scale 1.5, square_long), ``face_landmark_cpu.pbtxt`` (192 x 192 crop,
input in [0, 1], 468 landmarks, face flag = sigmoid(logit) > 0.5) and ``face_landmark_landmarks_to_roi.pbtxt``
(tracking: bounds of all landmarks, rotation landmark 33 -> 263, scale 1.5, square_long).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from posekit.pipelines import roi
from posekit.pipelines.roi import Rois
from posekit.detect.mediapipe import face_detector
from posekit.models.mediapipe_wheel import FACE_LANDMARK, load_mediapipe_module
from posekit.numerics import sigmoid
from posekit.pipelines.mediapipe import DecodedLandmarks, MediaPipeLandmarkEstimator, mp_pipeline_options
from posekit.skeletons import mediapipe_face468
from posekit.types import Detections, Poses

__all__ = ["MediaPipeFaceMeshEstimator", "decode_face_outputs", "mediapipe_face_mesh"]

_F = np.float32


def decode_face_outputs(outputs: Sequence[np.ndarray], rois: Rois, *, input_size: int = 192
                        ) -> DecodedLandmarks:
    """Decode face landmark outputs (TFLite order: landmarks (B, 1, 1, 1404), face flag logit (B, 1, 1, 1)).

    Returns :class:`~posekit.pipelines.mediapipe.DecodedLandmarks` (float32): ``landmarks`` (B, 468, 3) image
    pixels (z scaled like x, smaller = closer) and ``instance_scores`` (B,) sigmoid of the face flag; the other
    fields are None.
    """
    n = len(rois)
    raw = np.asarray(outputs[0], _F).reshape(n, -1, 3) / _F(input_size)
    flag = np.asarray(outputs[1], _F).reshape(n)
    return DecodedLandmarks(landmarks=roi.project_landmarks(raw, rois), instance_scores=sigmoid(flag))


class MediaPipeFaceMeshEstimator(MediaPipeLandmarkEstimator):
    """MediaPipe face mesh on every detected face, all crops in one batch.

    ``poses`` of the result: ``keypoints`` (N, 468, 2) image pixels; ``scores`` = the face presence score
    repeated for every keypoint; ``keypoints_3d`` = (N, 468, 3) the same landmarks with MediaPipe's relative
    depth: x, y image pixels, z pixel-scaled like x (no metric world landmarks exist for the face);
    ``boxes`` = the face detection box (or the caller's box, or the ROI's axis-aligned bound for given/tracked
    ROIs); ``box_scores`` = face presence. A caller's box should be a tight face box; it becomes a square,
    unrotated ROI of side ``box_scale`` (1.5) x its long side.
    """

    skeleton = mediapipe_face468
    input_size = 192
    num_landmarks = 468
    default_box_scale = 1.5

    def _rois_from_detections(self, detections: Detections, image_size: tuple[int, int]) -> Rois:
        kp = np.asarray(detections.keypoints, np.float64)
        if kp.shape[1] < 2:
            raise ValueError(f"face detections need >= 2 keypoints (the eyes), got {kp.shape}")
        raw = roi.rois_from_boxes(detections.boxes, image_size, rotation_points=kp[:, [0, 1]],
                                   target_angle_deg=0.0)
        return roi.transform_rois(raw, scale=(1.5, 1.5), square_long=True)

    def _decode(self, outputs: list[np.ndarray], rois: Rois) -> DecodedLandmarks:
        return decode_face_outputs(outputs, rois, input_size=self.input_size)

    def _next_rois(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> Rois:
        if len(landmarks) == 0:
            return Rois.empty(image_size)
        raw = roi.rois_from_landmark_bounds(landmarks[..., :2], image_size, start=33, end=263,
                                             target_angle_deg=0.0)
        return roi.transform_rois(raw, scale=(1.5, 1.5), square_long=True)

    def _poses(self, dec: DecodedLandmarks, boxes: np.ndarray, image_size: tuple[int, int]) -> Poses:
        flag = np.clip(dec.instance_scores, 0, 1)
        k = self.skeleton.num_keypoints
        return Poses(dec.landmarks[..., :2], np.repeat(flag[:, None], k, 1), boxes, self.skeleton,
                     box_scores=flag, keypoints_3d=dec.landmarks, image_size=image_size)


def mediapipe_face_mesh(*, device: str | torch.device = "cpu", detector: Callable | None = None,
                        landmark_model: Callable | None = None, min_detection_score: float | None = None,
                        backend: str = "torch", **kwargs: Any) -> MediaPipeFaceMeshEstimator:
    """MediaPipe face mesh: short-range face detector (:func:`posekit.detect.mediapipe.face_detector`) +
    ``face_landmark``, converted from the cached MediaPipe wheel on first use unless given. ``backend`` runs both
    networks; its own options among ``kwargs`` go to both runners, the others to :class:`MediaPipeFaceMeshEstimator`
    (see :func:`posekit.pipelines.mediapipe_pose.blazepose_full`)."""
    runtime, kwargs = mp_pipeline_options("mediapipe_face_mesh", backend, kwargs, device=device,
                                          precision=kwargs.get("precision", "fp32"),
                                          compile=kwargs.get("compile", False),
                                          channels_last=kwargs.get("channels_last"))
    lm_device = None if landmark_model is not None else device  # a given model runs where it is
    if landmark_model is None:
        landmark_model = load_mediapipe_module(FACE_LANDMARK)
    if detector is None:
        detector = face_detector(device=device, min_score=min_detection_score, backend=backend, **runtime)
    return MediaPipeFaceMeshEstimator(landmark_model, detector, device=lm_device, backend=backend, **runtime,
                                      **kwargs)
