"""RTMO on the whole image: one-stage multi-person pose estimation, no detector (MMPose ``inference_bottomup``).

Steps (:meth:`RTMOEstimator.predict_batch`):

1. :func:`bottomup_resize` (MMPose ``BottomupResize`` with ``pad_val=114``, ``resize_mode='fit'``, no UDP): the
   image, as BGR, scaled by ``min(S / width, S / height)`` and *centred* in the ``S x S`` input (padding on both
   sides of the short axis, value 114), by OpenCV 4's ``cv2.warpAffine`` (bilinear,
   :func:`posekit.warps.warp_affine_cv4`) with
   MMPose's ``get_warp_matrix`` for centre ``(width / 2, height / 2)`` and scale ``(width * S / rw,
   height * S / rh)`` (``rw, rh`` the resized size); the network input is that BGR image as float 0-255
   (``PoseDataPreprocessor``: mean 0, std 1, no channel swap);
2. the network (:class:`posekit.models.rtmo.RTMO`, one batched run);
3. :func:`posekit.codecs.rtmo.select_candidates`: score ``> score_threshold``, NMS at IoU ``nms_threshold``;
4. the DCC (:class:`posekit.models.rtmo.DCCNet`, one run for the candidates of every image) gives keypoints;
5. keypoints and boxes (clamped to the input) mapped to image pixels (:func:`posekit.codecs.rtmo.to_image`).

:class:`~posekit.types.Poses`: ``keypoints`` (N, 17, 2) image pixels (not clipped to the image), ``scores``
(N, 17) keypoint visibilities, ``boxes`` (N, 4) person boxes ``x1, y1, x2, y2`` image pixels, ``box_scores`` the
person scores; best first. ``boxes=`` is refused: RTMO finds the persons itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from posekit.codecs.rtmo import pack_dcc_input, select_candidates, to_image
from posekit.crops import warp_matrix
from posekit.detect.boxes import check_image
from posekit.io.image import load_image
from posekit.models.rtmo import RTMO, DCCNet, load_rtmo_weights, rtmo
from posekit.models.rtmo_zoo import CHECKPOINTS
from posekit.models.weights import fetch_pretrained
from posekit.numerics import sigmoid
from posekit.pipelines.base import PoseEstimator
from posekit.runtime.runner import (
    InputSpec,
    check_options,
    make_runner,
    split_backend_options,
)
from posekit.runtime.torch_runner import EngineOptions
from posekit.skeletons import coco17
from posekit.types import Poses
from posekit.warps import warp_affine_cv4

__all__ = ["PAD_VALUE", "RTMOEstimator", "bottomup_resize", "rtmo_estimator"]

_F = np.float32
PAD_VALUE = 114  # the RTMO configs' BottomupResize pad_val


def bottomup_resize(image: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 1 of the module docstring: an (H, W, 3) RGB uint8 image -> (network input (3, S, S) float32 BGR
    0-255, centre (2,) float32, scale (2,) float32), the centre and scale in image pixels (for
    :func:`~posekit.codecs.rtmo.to_image`)."""
    image = check_image(image)
    h, w = image.shape[:2]
    s = int(input_size)
    ratio = w / h
    rsz_w, rsz_h = min(s, s * ratio), min(s, s / ratio)
    center = np.array([w / 2, h / 2], _F)
    scale = np.array([w * s / rsz_w, h * s / rsz_h], _F)
    mat = warp_matrix(center[None], scale[None], (s, s))[0]
    out = warp_affine_cv4(image[..., ::-1], mat, (s, s), border_value=PAD_VALUE)
    return out.transpose(2, 0, 1).astype(_F), center, scale


class RTMOEstimator(PoseEstimator):
    """RTMO on the whole image (module docstring: steps and fields).

    Args:
        model: the network (:class:`posekit.models.rtmo.RTMO`, weights loaded).
        input_size: ``S``, the square input side in pixels (a multiple of 32; the official models: 640).
        score_threshold: persons scoring ``<=`` it are dropped (in [0, 1]; MMPose's ``score_thr`` 0.1).
        nms_threshold: IoU above which the lower-scoring box is suppressed (in [0, 1]; ``nms_thr`` 0.65).
        device, precision, compile, channels_last, batch_size: engine options
            (:class:`~posekit.runtime.torch_runner.EngineOptions`); ``batch_size`` images per network pass.
        name: stem of the files a back end writes (ONNX Runtime: ``<name>.onnx`` and ``<name>_dcc.onnx``).
        backend, backend_options: the runners' back end and its own options
            (:func:`posekit.runtime.runner.make_runner`).
    """

    skeleton = coco17

    def __init__(self, model: RTMO, *, input_size: int = 640, score_threshold: float = 0.1,
                 nms_threshold: float = 0.65, device: str | torch.device | None = None, precision: str = "fp32",
                 compile: bool = False, channels_last: bool | None = None, batch_size: int | None = None,
                 name: str = "rtmo", backend: str = "torch", **backend_options: Any) -> None:
        if not isinstance(model, RTMO):
            raise TypeError(f"model must be a posekit.models.rtmo.RTMO network, got {type(model).__name__}")
        if int(input_size) < 32 or int(input_size) % 32:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size!r}")
        for what, value in (("score_threshold", score_threshold), ("nms_threshold", nms_threshold)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{what} must lie in [0, 1], got {value!r}")
        self.model = model
        self.input_size = int(input_size)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.strides = tuple(model.strides)
        options = EngineOptions.for_network(model, device=device, precision=precision, compile=compile,
                                            channels_last=channels_last, batch_size=batch_size)
        check_options(backend, options)
        s = self.input_size
        self.runner = make_runner(model, backend=backend, options=options, name=name,
                                  input_spec=InputSpec.image(3, s, s), metadata={"posekit.network": name},
                                  output_names=("cls_logits", "box_deltas", "vis_logits", "pose_vecs"),
                                  **backend_options)
        dcc = DCCNet(model)
        dcc_options = EngineOptions.for_network(model, device=device, precision=precision, compile=False,
                                                channels_last=None, batch_size=None)
        self.dcc_runner = make_runner(dcc, backend=backend, options=dcc_options, name=f"{name}_dcc",
                                      input_spec=InputSpec.image(dcc.channels + 6, 1, 1),
                                      metadata={"posekit.network": f"{name}_dcc"}, output_names=("keypoints",),
                                      **backend_options)

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        """Poses in an (H, W, 3) RGB uint8 image. ``boxes`` must be ``None`` (RTMO finds the persons itself)."""
        if boxes is not None:
            raise ValueError("RTMO is one-stage and finds the persons itself: boxes= is not supported (use a "
                             "top-down model for poses in given boxes)")
        return self._predict([check_image(image)])[0]

    def predict_batch(self, images: Sequence[Any], *, boxes: Sequence[np.ndarray | None] | None = None
                      ) -> list[Poses]:
        """Poses of several images (paths, arrays or PIL images): one network pass for all (split by
        ``batch_size``) and one DCC pass for every candidate. ``boxes`` must be ``None`` or all ``None``."""
        if boxes is not None and any(b is not None for b in boxes):
            raise ValueError("RTMO is one-stage and finds the persons itself: boxes= is not supported")
        return self._predict([load_image(im) for im in images])

    def _predict(self, images: list[np.ndarray]) -> list[Poses]:
        if not images:
            return []
        prepared = [bottomup_resize(im, self.input_size) for im in images]
        cls, deltas, vis, pose = self.runner(np.stack([p[0] for p in prepared]))
        size = (self.input_size, self.input_size)
        cands = [select_candidates(cls[i], deltas[i], size, self.strides, score_threshold=self.score_threshold,
                                   nms_threshold=self.nms_threshold) for i in range(len(images))]
        packed = [pack_dcc_input(pose[i][c.index], c) for i, c in enumerate(cands)]
        total = sum(len(c) for c in cands)
        kpts_all = self.dcc_runner(np.concatenate(packed))[0] if total else np.zeros((0, 17, 2), _F)
        out, start = [], 0
        for i, (c, (_, center, scale)) in enumerate(zip(cands, prepared)):
            h, w = images[i].shape[:2]
            kpts = kpts_all[start:start + len(c)]
            start += len(c)
            if not len(c):
                out.append(Poses.empty(self.skeleton, image_size=(w, h)))
                continue
            keypoints = to_image(kpts, size, center, scale)
            boxes = to_image(c.clamped_boxes(size).reshape(-1, 2, 2), size, center, scale).reshape(-1, 4)
            out.append(Poses(keypoints, sigmoid(vis[i][c.index]), boxes, self.skeleton,
                             box_scores=c.scores.astype(_F), image_size=(w, h)))
        return out


def rtmo_estimator(variant: str = "s", *, weights: str | os.PathLike[str] | None = None, input_size: int = 640,
                   score_threshold: float = 0.1, nms_threshold: float = 0.65, backend: str = "torch",
                   device: str | torch.device = "cpu", precision: str = "fp32", compile: bool = False,
                   channels_last: bool | None = None, batch_size: int | None = None, model: RTMO | None = None,
                   **backend_options: Any) -> RTMOEstimator:
    """RTMO-``variant`` (``"s"``, ``"m"``, ``"l"``) end to end.

    ``weights``: an official checkpoint file (loaded strictly; one ``ValueError`` naming the file and every
    missing / unexpected / mis-shaped key, or saying it is not an RTMO checkpoint). Without it the official file
    is fetched into the cache (verified by its sha256 prefix); where it cannot be downloaded a
    :class:`~posekit.models.weights.WeightsError` names the URL and ``--weights PATH``. ``model``: a ready
    :class:`~posekit.models.rtmo.RTMO` instead (e.g. a reduced test network; ``weights`` is then not used).
    Engine options as :class:`~posekit.runtime.torch_runner.EngineOptions` (``batch_size``: images per network
    pass); ``backend_options`` go to the runners (e.g. ``intra_op_num_threads``, ``folder`` for ONNX Runtime).
    """
    rows = {row.args["variant"]: row for row in CHECKPOINTS}
    if variant not in rows:
        raise KeyError(f"unknown RTMO variant {variant!r}; known: {', '.join(rows)}")
    runtime, unknown = split_backend_options(backend, backend_options)
    if unknown:
        raise TypeError(f"rtmo_estimator got unexpected options {', '.join(sorted(unknown))}")
    check_options(backend, EngineOptions(device=device, precision=precision, compile=compile,
                                         channels_last=channels_last, batch_size=batch_size))
    row = rows[variant]
    if model is None:
        path = weights if weights is not None else fetch_pretrained(row.weights_spec(), what=row.name)
        model = rtmo(variant)
        load_rtmo_weights(model, path)
    return RTMOEstimator(model.to(device).eval(), input_size=input_size, score_threshold=score_threshold,
                         nms_threshold=nms_threshold, device=device, precision=precision, compile=compile,
                         channels_last=channels_last, batch_size=batch_size, backend=backend, name=row.name,
                         **runtime)
