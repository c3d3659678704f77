"""Converted hand/face/palm models vs LiteRT's reference kernels on random and real (astronaut) inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from posekit.models.tflite import build_module, convert_file
from tests.conftest import shared_path
from tests.models.tflite._files import tflite_path

REL_TOL = 1e-4  # |diff| <= REL_TOL * max|ref| per output

# model file -> input value range used by MediaPipe ([0, 1] or [-1, 1])
MODELS = {
    "palm_detection_full.tflite": (0.0, 1.0),
    "palm_detection_lite.tflite": (0.0, 1.0),
    "hand_landmark_full.tflite": (0.0, 1.0),
    "hand_landmark_lite.tflite": (0.0, 1.0),
    "face_detection_short_range.tflite": (-1.0, 1.0),
    "face_detection_full_range_sparse.tflite": (-1.0, 1.0),  # DENSIFY
    "face_landmark.tflite": (0.0, 1.0),
    "iris_landmark.tflite": (0.0, 1.0),
    "hand_recrop.tflite": (-1.0, 1.0),  # STRIDED_SLICE
}


def _litert(path, x_nhwc: np.ndarray) -> list[np.ndarray]:
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="ai-edge-litert is not installed (the optional `litert` extra)")
    resolver = litert.OpResolverType.BUILTIN_REF
    interp = litert.Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x_nhwc)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def _inputs(shape: tuple[int, ...], lo: float, hi: float) -> dict[str, np.ndarray]:
    _, h, w, _ = shape
    rng = np.random.default_rng(0)
    image = np.load(shared_path("fixtures", "blazepose", "astronaut_rgb_uint8_512x512x3.npy"))
    real = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return {
        "random": rng.uniform(lo, hi, size=shape).astype(np.float32),
        "astronaut": (real * (hi - lo) + lo)[None].astype(np.float32),
    }


@pytest.mark.parametrize("filename", list(MODELS))
def test_matches_litert_reference_kernels(filename):
    path = tflite_path(filename)
    module = build_module(*convert_file(path))
    for case, x in _inputs(module.input_shapes[0], *MODELS[filename]).items():
        refs = _litert(path, x)
        with torch.inference_mode():
            outs = module(torch.from_numpy(x).permute(0, 3, 1, 2))
        assert len(outs) == len(refs)
        for k, (got, ref) in enumerate(zip(outs, refs)):
            got = got.numpy()
            assert got.shape == ref.shape, f"{filename} {case} output {k}: shape {got.shape} != {ref.shape}"
            err = np.abs(got - ref).max() / np.abs(ref).max()
            assert err <= REL_TOL, f"{filename} {case} output {k}: rel error {err:.3g} > {REL_TOL}"


# BlazePose heavy and lite from the ``@mediapipe/pose`` npm package (not in the MediaPipe wheel): file name ->
# per-output tolerance (segmentation logits reach ~75 and cancel heavily, as for full in test_blazepose_fixtures.py)
NPM_POSE_MODELS = ("pose_landmark_heavy.tflite", "pose_landmark_lite.tflite")
NPM_SEG_REL_TOL = 5e-4  # achieved 1.9e-4 (heavy), 2.7e-5 (lite)


def _npm_pose_path(filename: str):
    import os

    from posekit.models import npm_package

    package = npm_package.MEDIAPIPE_POSE
    if not package.cached_path(filename).is_file() and not os.environ.get(package.source_env):
        pytest.skip(f"{filename} is not cached; set {package.source_env} to the {package.spec} npm tarball")
    return npm_package.fetch_files([filename], package=package, progress=None)[0]


@pytest.mark.parametrize("filename", NPM_POSE_MODELS)
def test_npm_pose_landmark_matches_litert_reference_kernels(filename):
    path = _npm_pose_path(filename)
    module = build_module(*convert_file(path))
    seg = module.output_shapes.index((1, 256, 256, 1))  # outputs matched by shape, not by position
    for case, x in _inputs(module.input_shapes[0], 0.0, 1.0).items():
        refs = _litert(path, x)
        with torch.inference_mode():
            outs = module(torch.from_numpy(x).permute(0, 3, 1, 2))
        assert len(outs) == len(refs)
        for k, (got, ref) in enumerate(zip(outs, refs)):
            got = got.numpy()
            assert got.shape == ref.shape, f"{filename} {case} output {k}: shape {got.shape} != {ref.shape}"
            tol = NPM_SEG_REL_TOL if k == seg else REL_TOL
            # floor 1e-6: on the random input the pose flag (a probability) is ~5e-12 and agrees to ~1e-15
            err = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-6)
            assert err <= tol, f"{filename} {case} output {k}: rel error {err:.3g} > {tol}"
