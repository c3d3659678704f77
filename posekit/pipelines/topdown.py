"""Top-down pose estimation: boxes -> crops -> one batched network pass -> flip test -> decode -> image pixels.

The steps reproduce MMPose 1.3.2's ``inference_topdown`` with a config's test pipeline
(``GetBBoxCenterScale(padding=1.25)`` -> ``TopdownAffine`` (UDP for ViTPose) -> ``PoseDataPreprocessor`` ->
``TopdownPoseEstimator.predict`` with its ``test_cfg`` -> ``add_pred_to_datasample``), batched over all persons
of an image with array operations (no per-keypoint Python loops):

1. boxes from the caller (``est(image, boxes=...)``), else from the detector (e.g. the BlazePose person detector
   :func:`posekit.detect.blazepose_detector`, or :class:`posekit.detect.BoxesFromFile` for a COCO detection-results
   JSON, looked up by the image's file name or ``key=``), else the whole image as one box (as MMPose);
2. centre / scale (padding, then the aspect ratio of the model input) and one affine crop per box
   (:mod:`posekit.crops`);
3. ``(rgb - mean) / std`` on the crops, one forward pass per ``batch_size`` persons; with flip test the
   horizontally flipped crops run in the same pass and the outputs are fused
   (:func:`posekit.postprocess.fuse_flip_heatmaps` / :func:`~posekit.postprocess.fuse_flip_simcc`);
4. the codec decodes crop-pixel keypoints, :func:`posekit.crops.crop_to_image` maps them to image pixels.

Engine options (:mod:`posekit.pipelines.engine`): ``precision="bf16"`` (CPU/CUDA) or ``"fp16"`` (CUDA) autocast,
``compile=True`` (:func:`torch.compile`), ``channels_last`` (default: on for CPU convolutional networks); the
model outputs are fused and decoded in float32 in every mode.

Scores: heatmap maxima or SimCC ``min(max_x, max_y)`` logits, as MMPose returns them; SimCC scores can exceed 1
and heatmap maxima can be negative, so :class:`~posekit.types.Poses` gets them clipped to [0, 1]
(:meth:`TopDownEstimator.estimate` returns the raw values).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit.crops import box_to_center_scale, crop_to_image, fix_aspect_ratio, warp_crops, warp_matrix
from posekit.io.image import load_image
from posekit.pipelines.base import PoseEstimator
from posekit.pipelines.engine import (
    EngineOptions, as_input, autocast, onnx_runtime_module, prepare_module, uses_channels_last,
)
from posekit.postprocess import fuse_flip_heatmaps, fuse_flip_simcc
from posekit.types import Detections, Poses

__all__ = ["TopdownOutput", "TopDownEstimator"]


@dataclass(frozen=True, eq=False)
class TopdownOutput:
    """Raw top-down predictions for N boxes.

    Attributes:
        keypoints: (N, K, 2) float32 image pixels, x right, y down.
        scores: (N, K) float32 raw scores (heatmap maxima / SimCC logits; not clipped).
        boxes: (N, 4) float32 ``x1, y1, x2, y2`` image pixels (the input boxes).
        box_scores: (N,) float32 detection scores (1 for caller boxes).
        center, scale: (N, 2) float32 crop centre and size ``(w, h)`` in image pixels.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray
    center: np.ndarray
    scale: np.ndarray


class _LazyDetector:
    """Builds a detector on first use (so that caller boxes never need the detector's weights)."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._detector: Any = None

    def _get(self) -> Any:
        if self._detector is None:
            self._detector = self._factory()
        return self._detector

    def __call__(self, image: np.ndarray) -> Detections:
        return self._get()(image)

    def detect_batch(self, images: Any) -> list[Detections]:
        return self._get().detect_batch(images)


def _model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return torch.device("cpu") if p is None else p.device


class TopDownEstimator(PoseEstimator):
    """Top-down estimator around a :class:`~posekit.models.topdown.TopdownModel`.

    ``PoseEstimator(model, detector)`` constructs this class too.

    Args:
        model: the network (as :func:`posekit.create_model` returns it; put in eval mode here).
        detector: ``detector(image) -> Detections`` on an (H, W, 3) RGB uint8 image (e.g.
            :func:`posekit.detect.blazepose_detector`), a :class:`posekit.detect.BoxesFromFile`, or ``None``
            (without caller boxes the whole image is one box).
        spec: the :class:`posekit.models._families.TopdownSpec` (codec, skeleton, normalisation, flip settings);
            default ``model.spec``, which :func:`posekit.create_model` sets.
        device: torch device to run on; default: where the model's parameters are (given: the model is moved).
        batch_size: persons per forward pass (with flip test the pass holds twice as many crops).
        flip_test: override the spec's flip test.
        min_box_score: detections scoring below this are dropped (caller boxes are kept).
        precision: ``"fp32"``, ``"bf16"`` (autocast, CPU and CUDA; keypoints within 0.5 px of fp32 on the parity
            fixtures) or ``"fp16"`` (autocast, CUDA only).
        compile: run the model through :func:`torch.compile` (compiles on the first call).
        channels_last: NHWC memory format for model and crops; ``None`` = on for CPU convolutional networks
            (HRNet, ResNet, RTMPose), off for ViTPose and on GPU.

    The model is moved to ``device`` and converted to the memory format in place; ``self.model`` is that module
    (``self.engine`` holds the :class:`~posekit.pipelines.engine.EngineOptions`).
    """

    def __init__(self, model: torch.nn.Module, detector: Any = None, *, spec: Any = None,
                 device: str | torch.device | None = None, batch_size: int = 32, flip_test: bool | None = None,
                 min_box_score: float = 0.0, precision: str = "fp32", compile: bool = False,
                 channels_last: bool | None = None) -> None:
        from posekit.models._families import TopdownSpec

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch nn.Module (see posekit.create_model), got {type(model).__name__}")
        spec = getattr(model, "spec", None) if spec is None else spec
        if not isinstance(spec, TopdownSpec):
            raise ValueError("spec must be a TopdownSpec (codec, skeleton, normalisation); pass spec= or build the "
                             "model with posekit.create_model, which attaches model.spec")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device) if device is not None else _model_device(model)
        self.engine = EngineOptions(device=self.device, precision=precision, compile=compile,
                                    channels_last=channels_last, batch_size=int(batch_size))
        self._channels_last = uses_channels_last(model, self.engine)
        prepared = prepare_module(model, self.engine)
        self.model = model
        self._compiled = prepared if prepared is not model else None
        self.detector = detector
        self.spec = spec
        self.skeleton = spec.skeleton
        self.batch_size = int(batch_size)
        self.flip_test = spec.flip_test if flip_test is None else bool(flip_test)
        self.min_box_score = float(min_box_score)
        self._mean = torch.tensor(spec.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(spec.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._flip_indices = list(spec.skeleton.flip_indices)

    # ------------------------------------------------------------------------------------------- entry points

    def __call__(self, image: Any, *, boxes: np.ndarray | Detections | None = None, key: Any = None) -> Poses:
        """Poses in ``image`` (path | HxWx3 RGB uint8 array | PIL image).

        ``boxes``: (N, 4) ``x1, y1, x2, y2`` pixels or :class:`~posekit.types.Detections`; replaces the detector.
        ``key``: image id or file name for a :class:`~posekit.detect.BoxesFromFile` detector (default: the
        file name when ``image`` is a path).
        """
        rgb = load_image(image)
        if boxes is None and key is None and isinstance(image, (str, os.PathLike)):
            key = image
        return self.predict_rgb(rgb, boxes=boxes, key=key)

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | Detections | None = None,
                    key: Any = None) -> Poses:
        """:class:`~posekit.types.Poses` (scores clipped to [0, 1]) in an HxWx3 RGB uint8 image."""
        out = self.estimate(image, boxes=boxes, key=key)
        h, w = image.shape[:2]
        return Poses(out.keypoints, np.clip(out.scores, 0.0, 1.0), out.boxes, self.skeleton,
                     box_scores=np.clip(out.box_scores, 0.0, 1.0), image_size=(w, h))

    def estimate(self, image: np.ndarray, *, boxes: np.ndarray | Detections | None = None,
                 key: Any = None) -> TopdownOutput:
        """Raw predictions (:class:`TopdownOutput`) for an HxWx3 RGB uint8 image."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image must be an (H, W, 3) RGB uint8 array, got {desc}")
        box_xyxy, box_scores = self._boxes(image, boxes, key)
        k = self.skeleton.num_keypoints
        if len(box_xyxy) == 0:
            z2 = np.zeros((0, 2), np.float32)
            return TopdownOutput(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                                 np.zeros((0, 4), np.float32), np.zeros(0, np.float32), z2, z2.copy())
        w, h = self.spec.input_size
        center, scale = box_to_center_scale(box_xyxy, padding=self.spec.padding)
        scale = fix_aspect_ratio(scale, aspect_ratio=w / h).astype(np.float32)
        center = center.astype(np.float32)
        matrices = warp_matrix(center, scale, (w, h), udp=self.spec.udp)
        crops = warp_crops(image, matrices, (w, h))
        keypoints, scores = self.predict_crops(crops, center, scale)
        return TopdownOutput(keypoints, scores, box_xyxy, box_scores, center, scale)

    def predict_crops(self, crops: np.ndarray, center: np.ndarray, scale: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints of crops cut elsewhere: normalise, batched forward (+ flip test), decode, back-project.

        Args:
            crops: (N, H, W, 3) uint8 RGB crops, ``(W, H) == spec.input_size``.
            center, scale: (N, 2) crop centre and size ``(w, h)`` in image pixels (as used to cut them).

        Returns:
            keypoints (N, K, 2) float32 image pixels and raw scores (N, K) float32.
        """
        w, h = self.spec.input_size
        if not isinstance(crops, np.ndarray) or crops.dtype != np.uint8 or crops.shape[1:] != (h, w, 3):
            shape = crops.shape if isinstance(crops, np.ndarray) else type(crops).__name__
            raise ValueError(f"crops must be a uint8 array of shape (N, {h}, {w}, 3), got {shape}")
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2)
        return self.predict_inputs(x, center, scale, normalized=False)

    def predict_inputs(self, inputs: torch.Tensor, center: np.ndarray, scale: np.ndarray, *,
                       normalized: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints from model inputs ``(N, 3, H, W)``: already normalised float (``normalized=True``, e.g.
        MMPose's preprocessed tensor) or 0-255 RGB values; ``center``/``scale`` (N, 2) as in
        :meth:`predict_crops`. Returns keypoints (N, K, 2) float32 image pixels and raw scores (N, K) float32."""
        w, h = self.spec.input_size
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4 or tuple(inputs.shape[1:]) != (3, h, w):
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise ValueError(f"inputs must be a tensor of shape (N, 3, {h}, {w}), got {shape}")
        n, k = inputs.shape[0], self.skeleton.num_keypoints
        if len(np.asarray(center)) != n or len(np.asarray(scale)) != n:
            raise ValueError(f"center and scale must have {n} rows (one per input), got "
                             f"{np.shape(center)} and {np.shape(scale)}")
        if n == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        decoded = self._decode(self._forward(inputs, normalized=normalized))
        keypoints = crop_to_image(decoded.keypoints, center, scale, (w, h)).astype(np.float32)
        return keypoints, decoded.scores.astype(np.float32)

    # ------------------------------------------------------------------------------------------------ steps

    def _boxes(self, image: np.ndarray, boxes: Any, key: Any) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) float32 xyxy boxes and (N,) float32 scores: caller boxes, detector boxes or the whole image."""
        if boxes is None:
            if self.detector is None:
                h, w = image.shape[:2]
                return np.array([[0, 0, w, h]], np.float32), np.ones(1, np.float32)
            from posekit.detect.boxes import BoxesFromFile

            if isinstance(self.detector, BoxesFromFile):
                if key is None:
                    raise ValueError("the detector reads boxes from a file: pass key= (image id or file name) "
                                     "or the image as a path")
                dets = self.detector(image, key=key)
            else:
                dets = self.detector(image)
            keep = dets.scores >= self.min_box_score
            return dets.boxes[keep], dets.scores[keep]
        if isinstance(boxes, Detections):
            return boxes.boxes, boxes.scores
        arr = np.asarray(boxes, dtype=np.float32)
        if arr.size == 0:
            arr = arr.reshape(0, 4)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {arr.shape}")
        return arr, np.ones(len(arr), np.float32)

    def _run(self, x: torch.Tensor) -> Any:
        """The model on a float32 (B, 3, H, W) batch in the engine's memory format and precision; float32 outputs."""
        with autocast(self.engine):
            runner = self.model if self._compiled is None else self._compiled
            out = runner(as_input(x, self._channels_last))
        return tuple(o.float() for o in out) if isinstance(out, (tuple, list)) else out.float()

    def _fuse(self, out: Any, n: int) -> Any:
        """Flip-test fusion of the outputs of ``[x, flipped x]`` (2n crops); torch tensors or NumPy arrays."""
        if isinstance(out, (tuple, list)):
            return fuse_flip_simcc(out[0][:n], out[1][:n], out[0][n:], out[1][n:], self._flip_indices)
        return fuse_flip_heatmaps(out[:n], out[n:], self._flip_indices, shift=self.spec.shift_heatmap)

    def _forward_onnxruntime(self, ort: Any, inputs: torch.Tensor, *, normalized: bool) -> Any:
        """:meth:`_forward` for an ONNX Runtime network, in NumPy only: a torch op between ONNX Runtime calls wakes
        torch's OpenMP threads, which then spin on the cores ONNX Runtime's threads need (see
        :func:`posekit.pipelines.engine.forward_nhwc`). Same float32 arithmetic as the torch path."""
        mean = np.asarray(self.spec.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.spec.std, np.float32).reshape(1, 3, 1, 1)
        outputs = []
        for start in range(0, len(inputs), self.batch_size):
            x = inputs[start:start + self.batch_size].numpy().astype(np.float32)  # a view: no torch kernel runs
            if not normalized:
                x = (x - mean) / std
            n = len(x)
            batch = np.concatenate([x, x[..., ::-1]]) if self.flip_test else x
            out = ort(np.ascontiguousarray(batch))
            out = tuple(out) if isinstance(out, (tuple, list)) else out
            outputs.append(self._fuse(out, n) if self.flip_test else out)
        if isinstance(outputs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outputs))
        return np.concatenate(outputs)

    def _forward(self, inputs: torch.Tensor, *, normalized: bool) -> Any:
        """Fused raw outputs (CPU float32) for (N, 3, H, W) inputs: heatmaps (N, K, h, w) or SimCC ``(x, y)``."""
        ort = onnx_runtime_module(self.model)
        if ort is not None:
            return self._forward_onnxruntime(ort, inputs, normalized=normalized)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(inputs), self.batch_size):
                x = inputs[start:start + self.batch_size].to(self.device).float()
                if not normalized:
                    x = (x - self._mean) / self._std
                n = x.shape[0]
                if self.flip_test:
                    out = self._fuse(self._run(torch.cat([x, x.flip(-1)])), n)
                else:
                    out = self._run(x)
                outputs.append(tuple(o.cpu() for o in out) if isinstance(out, (tuple, list)) else out.cpu())
        if isinstance(outputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outputs))
        return torch.cat(outputs)

    def _decode(self, fused: Any) -> Any:
        from posekit.codecs import SimCC

        if isinstance(self.spec.codec, SimCC):
            if not isinstance(fused, tuple) or len(fused) != 2:
                raise ValueError("a SimCC codec needs a model returning (simcc_x, simcc_y)")
            return self.spec.codec.decode(np.asarray(fused[0]), np.asarray(fused[1]))
        if isinstance(fused, tuple):
            raise ValueError(f"{type(self.spec.codec).__name__} needs a model returning heatmaps, got a tuple")
        return self.spec.codec.decode(np.asarray(fused))
