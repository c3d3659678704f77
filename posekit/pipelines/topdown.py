"""Top-down pose estimation: boxes -> crops -> one batched network pass -> flip test -> decode -> image pixels.

The steps reproduce MMPose 1.3.2's ``inference_topdown`` with a config's test pipeline
(``GetBBoxCenterScale(padding=1.25)`` -> ``TopdownAffine`` (UDP for ViTPose) -> ``PoseDataPreprocessor`` ->
``TopdownPoseEstimator.predict`` with its ``test_cfg`` -> ``add_pred_to_datasample``), batched over all persons
of an image with array operations (no per-keypoint Python loops):

1. boxes from the caller (``est(image, boxes=...)``), else from the detector (by default the one of the model's task,
   :data:`posekit.detect.tasks.TASK_DETECTORS`: NanoDet persons for body and whole-body models, RTMDet-nano hands
   for hand models, NanoDet's COCO animals for animal models; or :class:`posekit.detect.BoxesFromFile` for a COCO
   detection-results JSON, looked up by the image's file name or ``key=``), else the whole image as one box (as
   MMPose);
2. centre / scale (padding, then the aspect ratio of the model input) and one affine crop per box
   (:mod:`posekit.crops`);
3. ``(rgb - mean) / std`` on the crops, one forward pass per ``batch_size`` persons; with flip test the
   horizontally flipped crops run in the same pass and the outputs are fused
   (:func:`posekit.postprocess.fuse_flip_heatmaps` / :func:`~posekit.postprocess.fuse_flip_simcc`);
4. the codec decodes crop-pixel keypoints, :func:`posekit.crops.crop_to_image` maps them to image pixels.

The network runs in a :class:`~posekit.runtime.runner.Runner` (``self.runner``) built by
:func:`posekit.runtime.runner.make_runner` on ``backend``; steps 2-4 are NumPy whatever the back end. Engine
options of the torch back end (:class:`posekit.runtime.torch_runner.EngineOptions`): ``precision="bf16"``
(CPU/CUDA) or ``"fp16"`` (CUDA) autocast, ``compile=True`` (:func:`torch.compile`), ``channels_last`` (default: on
for CPU convolutional networks); the model outputs are fused and decoded in float32 in every mode. With
``backend="onnxruntime"`` the network is exported to ONNX once (cached by a fingerprint of its weights) and no
torch operation runs per image.

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
from posekit.detect.boxes import BoxesFromFile
from posekit.detect.tasks import detector_for_task
from posekit.io.image import load_image
from posekit.models.registry import get_entry, list_models
from posekit.pipelines.base import PoseEstimator
from posekit.runtime.runner import InputSpec, check_options, make_runner, split_backend_options
from posekit.runtime.torch_runner import EngineOptions
from posekit.postprocess import fuse_flip_heatmaps, fuse_flip_simcc
from posekit.types import Detections, Poses

__all__ = ["TopdownOutput", "TopDownEstimator", "topdown_estimator"]


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


class TopDownEstimator(PoseEstimator):
    """Top-down estimator around a :class:`~posekit.models.topdown.TopdownModel`.

    Args:
        model: the network (as :func:`posekit.create_model` returns it; put in eval mode here), an ``.onnx`` file
            of it for ``backend="onnxruntime"``, or a ready :class:`~posekit.runtime.runner.Runner`.
        detector: ``detector(image) -> Detections`` on an (H, W, 3) RGB uint8 image (e.g.
            :func:`posekit.detect.blazepose_detector`), a :class:`posekit.detect.BoxesFromFile`, or ``None``
            (without caller boxes the whole image is one box).
        spec: the :class:`posekit.models.topdown.TopdownSpec` (codec, skeleton, normalisation, flip settings);
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
        name: the network's name where a back end writes a file (ONNX Runtime: ``<name>-<fingerprint>-opset17.onnx``
            in ``<cache>/onnx``).
        backend, backend_options: the runner's back end (``"torch"``, ``"onnxruntime"``) and its own options
            (e.g. ``intra_op_num_threads``, ``providers``, ``folder``); see :func:`posekit.runtime.runner.make_runner`.

    On the torch back end the model is moved to ``device`` and converted to the memory format in place;
    ``self.model`` is the network as given, ``self.runner`` runs it and ``self.engine`` holds the
    :class:`~posekit.runtime.torch_runner.EngineOptions` it was built with.
    """

    def __init__(self, model: Any, detector: Any = None, *, spec: Any = None,
                 device: str | torch.device | None = None, batch_size: int = 32, flip_test: bool | None = None,
                 min_box_score: float = 0.0, precision: str = "fp32", compile: bool = False,
                 channels_last: bool | None = None, name: str | None = None, backend: str = "torch",
                 **backend_options: Any) -> None:
        from posekit.models.topdown import TopdownSpec
        from posekit.runtime.onnx_files import topdown_metadata, topdown_output_names

        spec = getattr(model, "spec", None) if spec is None else spec
        if not isinstance(spec, TopdownSpec):
            raise ValueError("spec must be a TopdownSpec (codec, skeleton, normalisation); pass spec= or build the "
                             "model with posekit.create_model, which attaches model.spec")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.flip_test = spec.flip_test if flip_test is None else bool(flip_test)
        self.batch_size = int(batch_size)
        # the pipeline sends batch_size persons per runner call (twice as many crops with flip test)
        self.engine = EngineOptions.for_network(model, device=device, precision=precision, compile=compile,
                                                channels_last=channels_last,
                                                batch_size=self.batch_size * (2 if self.flip_test else 1))
        self.device = self.engine.torch_device
        w, h = spec.input_size
        self.runner = make_runner(model, backend=backend, options=self.engine, input_spec=InputSpec.image(3, h, w),
                                  name=name, metadata=topdown_metadata(name or "topdown", spec),
                                  output_names=topdown_output_names(spec), **backend_options)
        self.model = model
        self.detector = detector
        self.spec = spec
        self.skeleton = spec.skeleton
        self.min_box_score = float(min_box_score)
        # (rgb - mean) / std on (N, H, W * 3) rows: a per-element row keeps NumPy's inner loop long (not 3 wide)
        self._mean_row = np.tile(np.asarray(spec.mean, np.float32), w)
        self._std_row = np.tile(np.asarray(spec.std, np.float32), w)
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
        return self._predict(crops, center, scale, normalized=False)

    def predict_inputs(self, inputs: Any, center: np.ndarray, scale: np.ndarray, *,
                       normalized: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints from model inputs ``(N, 3, H, W)`` (a torch tensor or NumPy array): already normalised float
        (``normalized=True``, e.g. MMPose's preprocessed tensor) or 0-255 RGB values; ``center``/``scale`` (N, 2)
        as in :meth:`predict_crops`. Returns keypoints (N, K, 2) float32 image pixels and raw scores (N, K)
        float32."""
        return self._predict(self._nchw_array(inputs).transpose(0, 2, 3, 1), center, scale, normalized=normalized)

    def _nchw_array(self, inputs: Any) -> np.ndarray:
        """(N, 3, H, W) ``inputs`` (tensor or array) as a NumPy array (a view where possible)."""
        w, h = self.spec.input_size
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().to("cpu", torch.float32).numpy()
        if not isinstance(inputs, np.ndarray) or inputs.ndim != 4 or tuple(inputs.shape[1:]) != (3, h, w):
            shape = tuple(inputs.shape) if isinstance(inputs, np.ndarray) else type(inputs).__name__
            raise ValueError(f"inputs must be a tensor of shape (N, 3, {h}, {w}), got {shape}")
        return inputs

    def _predict(self, inputs: np.ndarray, center: np.ndarray, scale: np.ndarray, *,
                 normalized: bool) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_crops` / :meth:`predict_inputs` on (N, H, W, 3) ``inputs``."""
        w, h = self.spec.input_size
        n, k = inputs.shape[0], self.skeleton.num_keypoints
        if len(np.asarray(center)) != n or len(np.asarray(scale)) != n:
            raise ValueError(f"center and scale must have {n} rows (one per input), got "
                             f"{np.shape(center)} and {np.shape(scale)}")
        if n == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        decoded = self._decode(self._forward_crops(inputs, normalized=normalized))
        keypoints = crop_to_image(decoded.keypoints, center, scale, (w, h)).astype(np.float32)
        return keypoints, decoded.scores.astype(np.float32)

    # ------------------------------------------------------------------------------------------------ steps

    def _boxes(self, image: np.ndarray, boxes: Any, key: Any) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) float32 xyxy boxes and (N,) float32 scores: caller boxes, detector boxes or the whole image."""
        if boxes is None:
            if self.detector is None:
                h, w = image.shape[:2]
                return np.array([[0, 0, w, h]], np.float32), np.ones(1, np.float32)
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

    def _fuse(self, out: Any, n: int) -> Any:
        """Flip-test fusion of the outputs of ``[x, flipped x]`` (2n crops)."""
        if isinstance(out, (tuple, list)):
            return fuse_flip_simcc(out[0][:n], out[1][:n], out[0][n:], out[1][n:], self._flip_indices)
        return fuse_flip_heatmaps(out[:n], out[n:], self._flip_indices, shift=self.spec.shift_heatmap)

    def _forward(self, inputs: Any, *, normalized: bool) -> Any:
        """Fused raw outputs (float32 NumPy) for (N, 3, H, W) inputs: heatmaps (N, K, h, w) or SimCC ``(x, y)``."""
        return self._forward_crops(self._nchw_array(inputs).transpose(0, 2, 3, 1), normalized=normalized)

    def _forward_crops(self, inputs: np.ndarray, *, normalized: bool) -> Any:
        """:meth:`_forward` on (N, H, W, 3) inputs: per ``batch_size`` persons one runner call on the normalised
        crops (and, with flip test, their mirror images), in NumPy whatever the back end."""
        spec = self.runner.input_spec
        n_all, h, w, c = inputs.shape
        outputs = []
        for start in range(0, n_all, self.batch_size):
            part = inputs[start:start + self.batch_size]
            n = len(part)
            batch = np.empty((2 * n if self.flip_test else n, h, w, c), np.float32)
            rows = batch[:n].reshape(n, h, w * c)
            if normalized:
                rows[...] = part.reshape(n, h, w * c)
            else:  # (rgb - mean) / std in float32
                np.subtract(part.reshape(n, h, w * c), self._mean_row, out=rows, dtype=np.float32)
                np.divide(rows, self._std_row, out=rows)
            if self.flip_test:  # the mirror images, copied as 3-channel pixels
                pixels = batch.view(np.dtype((np.void, 4 * c)))
                pixels[n:] = pixels[:n, :, ::-1]
            out = self.runner(spec.from_nhwc(batch))
            out = out[0] if len(out) == 1 else out
            outputs.append(self._fuse(out, n) if self.flip_test else out)
        if isinstance(outputs[0], tuple):
            return tuple(np.concatenate(parts) for parts in zip(*outputs))
        return np.concatenate(outputs)

    def _decode(self, fused: Any) -> Any:
        from posekit.codecs import SimCC

        if isinstance(self.spec.codec, SimCC):
            if not isinstance(fused, tuple) or len(fused) != 2:
                raise ValueError("a SimCC codec needs a model returning (simcc_x, simcc_y)")
            return self.spec.codec.decode(np.asarray(fused[0]), np.asarray(fused[1]))
        if isinstance(fused, tuple):
            raise ValueError(f"{type(self.spec.codec).__name__} needs a model returning heatmaps, got a tuple")
        return self.spec.codec.decode(np.asarray(fused))


def topdown_estimator(model: Any, *, name: str | None = None, detector: Any = None, device: str | torch.device = "cpu",
                      backend: str = "torch", task: str | None = None, **options: Any) -> TopDownEstimator:
    """A :class:`TopDownEstimator` for a registry model of ``task`` (``"body"``, ``"wholebody"``, ``"hand"``,
    ``"animal"``; default: the task of the registry model ``name``, else ``"body"``): ``detector`` defaults to the
    task's (:func:`posekit.detect.tasks.detector_for_task`: NanoDet
    persons, RTMDet-nano hands or NanoDet's COCO animals) on the same ``backend`` and ``device``, built on first use
    (caller boxes never need it). The back end's own options among ``options`` (e.g. ``intra_op_num_threads``,
    ``folder``) go to both networks' runners, the others to the estimator; ``name`` names the network's files (see
    :class:`TopDownEstimator`)."""
    runtime, options = split_backend_options(backend, options)
    check_options(backend, EngineOptions(device=device, precision=options.get("precision", "fp32"),
                                         compile=options.get("compile", False),
                                         channels_last=options.get("channels_last")))
    if task is None:
        task = get_entry(name).task if name in list_models() else "body"
    if detector is None:
        detector = detector_for_task(task, model=name or "the model", device=device, backend=backend, **runtime)
    return TopDownEstimator(model, detector, name=name, device=device, backend=backend, **runtime, **options)
