"""ONNX export (verified in ONNX Runtime against PyTorch), the ONNX Runtime runner, and posekit's pipelines built
with ``backend="onnxruntime"`` runners.

MediaPipe networks are converted on first use into posekit's weights cache; top-down networks use random weights,
asked for explicitly (export correctness does not depend on them; their official files are not reachable here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="onnx is not installed (the optional `onnx` extra)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the optional `onnx` extra)")

import posekit  # noqa: E402
from posekit.runtime.onnx_export import OnnxVerificationError, export_onnx, verify_onnx  # noqa: E402
from posekit.runtime.onnxruntime_runner import OrtRunner  # noqa: E402
from posekit.models import mediapipe_wheel as mpw  # noqa: E402
from posekit.models.mediapipe_wheel import load_mediapipe_module  # noqa: E402
from posekit.models.registry import get_entry  # noqa: E402
from tests.conftest import shared_path  # noqa: E402

FIX = ("fixtures", "blazepose")

# (asset, input value range, real input fixture or None -> the astronaut image resized)
MEDIAPIPE = [
    (mpw.POSE_DETECTION, (-1.0, 1.0), "pose_detection_input_1x224x224x3.npy"),
    (mpw.POSE_LANDMARK_FULL, (0.0, 1.0), "pose_landmark_full_input_1x256x256x3.npy"),
    (mpw.PALM_DETECTION_FULL, (0.0, 1.0), None),
    (mpw.PALM_DETECTION_LITE, (0.0, 1.0), None),
    (mpw.HAND_LANDMARK_FULL, (0.0, 1.0), None),
    (mpw.HAND_LANDMARK_LITE, (0.0, 1.0), None),
    (mpw.FACE_DETECTION_SHORT_RANGE, (-1.0, 1.0), None),
    (mpw.FACE_LANDMARK, (0.0, 1.0), None),
]


def _astronaut() -> np.ndarray:
    return np.load(shared_path(*FIX, "astronaut_rgb_uint8_512x512x3.npy"))


def _real_input(module: torch.nn.Module, value_range: tuple[float, float], fixture: str | None) -> np.ndarray:
    """(1, 3, H, W) float32 real image input in the network's value range."""
    if fixture is not None:
        return np.ascontiguousarray(np.load(shared_path(*FIX, fixture)).transpose(0, 3, 1, 2), np.float32)
    _, h, w, _ = module.input_shapes[0]
    rgb = cv2.resize(_astronaut(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lo, hi = value_range
    return np.ascontiguousarray((rgb * (hi - lo) + lo).transpose(2, 0, 1)[None], np.float32)


def _errors(ort_out, torch_out) -> list[float]:
    """Per output: max |ort - torch| / max(1, max |torch|)."""
    return [float(np.abs(np.asarray(o, np.float64) - np.asarray(t, np.float64)).max()
                  / max(1.0, float(np.abs(np.asarray(t)).max()))) for o, t in zip(ort_out, torch_out)]


def _torch(model: torch.nn.Module, x: np.ndarray):
    with torch.inference_mode():
        out = model(torch.from_numpy(x))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


SLOW_ASSETS = {mpw.PALM_DETECTION_FULL, mpw.PALM_DETECTION_LITE, mpw.HAND_LANDMARK_FULL, mpw.HAND_LANDMARK_LITE,
               mpw.FACE_LANDMARK}  # ~10 s each on 2 loaded cores; the pose and face detector pair stays in the fast set


@pytest.fixture(scope="module")
def pose_files(tmp_path_factory):
    """BlazePose's two networks exported (dynamic batch, verified) once for this module: (folder, det, lm)."""
    from posekit.runtime.onnx_files import mediapipe_onnx_files

    folder = tmp_path_factory.mktemp("onnx_cache")
    return (folder, *mediapipe_onnx_files("blazepose_full", folder=folder))


@pytest.mark.parametrize("asset, value_range, fixture", [
    pytest.param(*m, id=m[0].name, marks=[pytest.mark.slow] if m[0] in SLOW_ASSETS else []) for m in MEDIAPIPE])
def test_mediapipe_network_exports_verified_with_dynamic_batch(request, tmp_path, asset, value_range, fixture):
    module = load_mediapipe_module(asset)
    real = _real_input(module, value_range, fixture)
    if asset in (mpw.POSE_DETECTION, mpw.POSE_LANDMARK_FULL):
        # exported by mediapipe_onnx_files (random inputs); check it on real ones here
        _, det, lm = request.getfixturevalue("pose_files")
        path = det if asset == mpw.POSE_DETECTION else lm
        assert verify_onnx(path, module, [("real", real)])[0].ok
    else:
        path = export_onnx(module, tmp_path / f"{asset.name}.onnx", input_shape=(1, *real.shape[1:]),
                           dynamic_batch=True, check_inputs=[real])
        assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    om = OrtRunner(path, intra_op_num_threads=2)
    assert om.input_spec.shape[0] is None and om.returns_tuple
    lo = value_range[0]
    variants = [real[..., ::-1], real[..., ::-1, :], lo + (real - lo) * np.float32(0.7)]  # mirrored, flipped, dimmer
    batch4 = np.ascontiguousarray(np.concatenate([real, *variants]), np.float32)
    for x in (real, batch4):  # batch 1 and 4 from one file
        out = om(x)
        ref = _torch(module, x)
        assert isinstance(out, tuple) and all(isinstance(o, np.ndarray) and o.dtype == np.float32 for o in out)
        assert [tuple(o.shape) for o in out] == [r.shape for r in ref]
        errors = _errors(out, ref)
        if asset == mpw.POSE_LANDMARK_FULL:
            # segmentation logits reach ~1600 and are ill-conditioned in float32: PyTorch's NCHW and channels_last
            # runs differ by ~5e-4 (relative), ONNX Runtime from PyTorch by ~7e-4; all other outputs agree to 1e-4
            assert errors.pop(2) <= 2e-3
        assert max(errors) <= 1e-4, errors


def test_pose_landmark_onnx_matches_mediapipe_reference_kernels(pose_files):
    """ONNX Runtime on the fixture crop reproduces LiteRT's reference outputs as closely as PyTorch does."""
    module = load_mediapipe_module(mpw.POSE_LANDMARK_FULL)
    x = _real_input(module, (0.0, 1.0), "pose_landmark_full_input_1x256x256x3.npy")
    out, ref = OrtRunner(pose_files[2])(x), _torch(module, x)
    for k, name in [(0, "landmarks_1x195"), (1, "pose_flag_1x1"), (3, "heatmap_1x64x64x39"),
                    (4, "world_landmarks_1x117")]:
        lite = np.load(shared_path(*FIX, f"pose_landmark_full_out_{name}_ref.npy"))
        err_ort, err_torch = np.abs(out[k] - lite).max(), np.abs(ref[k] - lite).max()
        assert err_ort <= 2 * err_torch + 1e-5, (name, err_ort, err_torch)
    raw = out[0].reshape(39, 5)[:, :2]  # crop pixels of the 256 x 256 input
    assert np.abs(raw - np.load(shared_path(*FIX, "pose_landmark_full_out_landmarks_1x195_ref.npy")
                                ).reshape(39, 5)[:, :2]).max() < 0.01


def _tiny_heatmap_model() -> torch.nn.Module:
    from posekit.models.backbones.resnet import resnet
    from posekit.models.heads.heatmap import HeatmapHead
    from posekit.models.topdown import TopdownModel

    torch.manual_seed(0)
    head = HeatmapHead(128, 17, deconv_out_channels=(32, 32, 32))
    return TopdownModel(resnet(18, stem_channels=16, base_channels=16), head).eval()


def test_single_output_model_numpy_in_numpy_out(tmp_path):
    model = _tiny_heatmap_model()
    path = export_onnx(model, tmp_path / "hm.onnx", input_shape=(1, 3, 64, 64), dynamic_batch=True,
                       output_names=["heatmaps"])
    om = OrtRunner(path)
    assert om.output_names == ("heatmaps",) and not om.returns_tuple  # the module returned one tensor
    assert om.input_spec.shape == (None, 3, 64, 64) and om.input_spec.layout == "NCHW"
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64), dtype=np.float32)
    (out_np,) = om(x)  # a runner always returns a tuple, in the network's output order
    assert isinstance(out_np, np.ndarray) and out_np.shape == (2, 17, 16, 16) and out_np.dtype == np.float32
    np.testing.assert_array_equal(om(x.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2))[0], out_np)  # any strides
    assert _errors([out_np], _torch(model, x))[0] <= 1e-4
    with pytest.raises(ValueError, match=r"shape \(B, 3, 64, 64\)"):
        om(x[:, :, :32])
    with pytest.raises(ValueError, match="dtype"):
        om(x.astype(np.int32))


def test_fixed_batch_file_rejects_another_batch_clearly(tmp_path):
    path = export_onnx(_tiny_heatmap_model(), tmp_path / "hm.onnx", input_shape=(1, 3, 64, 64))
    om = OrtRunner(path)
    assert om.input_spec.shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="fixed batch of 1.*dynamic_batch"):
        om(np.zeros((4, 3, 64, 64), np.float32))


class _Branchy(torch.nn.Module):
    """Data-dependent Python control flow: the trace freezes the branch taken on the (zero) example input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if bool(x.sum() > 0) else x - 1


def test_verification_catches_a_wrong_export_and_writes_nothing(tmp_path):
    with pytest.raises(OnnxVerificationError, match=r"bad.onnx: .* max error 1 relative .*nothing was written"):
        export_onnx(_Branchy().eval(), tmp_path / "bad.onnx", input_shape=(1, 3, 8, 8))
    assert list(tmp_path.iterdir()) == []
    # a correct file checked against different weights fails too
    good = export_onnx(_tiny_heatmap_model(), tmp_path / "hm.onnx", input_shape=(1, 3, 64, 64))
    other = _tiny_heatmap_model()
    with torch.no_grad():
        for p in other.head.parameters():
            p.mul_(1.01)
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64), dtype=np.float32)
    with pytest.raises(OnnxVerificationError, match="max error"):
        verify_onnx(good, other, [("normal", x)])


def test_bad_arguments_are_clear_errors(tmp_path):
    model = _tiny_heatmap_model()
    with pytest.raises(ValueError, match="end in .onnx"):
        export_onnx(model, tmp_path / "m.pt", input_shape=(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"input_shape must be \(B, C, H, W\)"):
        export_onnx(model, tmp_path / "m.onnx", input_shape=(3, 64, 48))
    with pytest.raises(ValueError, match=r"check_inputs\[0\] must have shape"):
        export_onnx(model, tmp_path / "m.onnx", input_shape=(1, 3, 64, 64), check_inputs=[np.zeros((1, 3, 8, 8))])
    with pytest.raises(ValueError, match="training mode"):
        export_onnx(_tiny_heatmap_model().train(), tmp_path / "m.onnx", input_shape=(1, 3, 64, 64))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OrtRunner(tmp_path / "missing.onnx")
    assert list(tmp_path.iterdir()) == []


TOPDOWN_FAST = ["rtmpose_t_coco_256x192"]
TOPDOWN_SLOW = ["simplebaseline_res50_coco_256x192", "vitpose_s_coco_256x192", "vitpose_s_simple_coco_256x192",
                "hrnet_w32_coco_256x192", "rtmpose_m_coco_256x192"]


@pytest.mark.parametrize("name", [*TOPDOWN_FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in TOPDOWN_SLOW)])
def test_topdown_model_exports_verified_with_dynamic_batch(tmp_path, name):
    from posekit.runtime.onnx_files import export_model

    torch.manual_seed(0)
    (path,) = export_model(name, tmp_path, dynamic_batch=True, random_weights=True)  # verified inside at 1e-4
    assert path == tmp_path / f"{name}.onnx"
    torch.manual_seed(0)
    model = posekit.create_model(name)  # the same random weights
    om = OrtRunner(path)
    assert om.metadata["posekit.model"] == name and om.metadata["posekit.input_size"] == "192x256"
    assert om.metadata["posekit.weights"] == "random"
    simcc = name.startswith("rtmpose")
    assert om.output_names == (("simcc_x", "simcc_y") if simcc else ("heatmaps",))
    assert om.returns_tuple == simcc
    for batch in (1, 4):  # one file, two batch sizes
        x = np.random.default_rng(batch).standard_normal((batch, 3, 256, 192), dtype=np.float32)
        out = list(om(x))
        ref = _torch(model, x)
        assert [o.shape for o in out] == [r.shape for r in ref] and out[0].shape[0] == batch
        assert max(_errors(out, ref)) <= 1e-4



def test_topdown_export_uses_official_weights_never_silently_random(tmp_path, offline):
    from posekit.models.weights import WeightsError
    from posekit.runtime.onnx_files import export_model

    name = "rtmpose_t_coco_256x192"
    spec = get_entry(name).weights
    with pytest.raises(WeightsError) as info:  # no weights: the official file, which cannot be downloaded here
        export_model(name, tmp_path / "out")
    message = str(info.value)
    assert message.startswith(f"{name} needs weights: its official checkpoint {spec.url} (sha256 starts with "
                              f"{spec.sha256}; license: ")
    assert message.endswith("Download it elsewhere and pass --weights PATH (weights= in Python), or --random-weights "
                            "(random_weights=True) to export random initialisation for deployment tests")
    with pytest.raises(ValueError, match="either weights or random_weights=True .* not both"):
        export_model(name, tmp_path / "out", weights=tmp_path / "w.pth", random_weights=True)
    with pytest.raises(ValueError, match="blazepose_full takes its weights from the MediaPipe wheel"):
        export_model("blazepose_full", tmp_path / "out", random_weights=True)
    assert not (tmp_path / "out").exists()
    # a checkpoint file: loaded, exported, and named in the file's metadata
    weights = shared_path("fixtures", "mmpose", "parity", "rtmpose_t", "model.pth")
    (path,) = export_model(name, tmp_path / "out", weights=weights)
    om = OrtRunner(path)
    assert om.metadata["posekit.weights"] == str(weights)
    x = np.random.default_rng(0).standard_normal((1, 3, 256, 192), dtype=np.float32)
    ref = _torch(posekit.create_model(name, weights=weights), x)
    assert max(_errors(list(om(x)), ref)) <= 1e-4


def test_topdown_onnx_estimator_matches_torch_estimator(tmp_path):
    from posekit.pipelines.topdown import TopDownEstimator

    torch.manual_seed(0)
    model = posekit.create_model("rtmpose_t_coco_256x192")
    path = export_onnx(model, tmp_path / "rtm.onnx", input_shape=(1, 3, 256, 192), dynamic_batch=True,
                       output_names=["simcc_x", "simcc_y"])
    image = _astronaut()
    boxes = np.array([[120.0, 20.0, 400.0, 500.0], [0.0, 0.0, 256.0, 256.0]], np.float32)
    for flip in (False, True):  # flip test: batches of 4 crops through the dynamic batch axis
        ref = TopDownEstimator(model, None, flip_test=flip)(image, boxes=boxes)
        est = TopDownEstimator(path, None, spec=model.spec, flip_test=flip, backend="onnxruntime",
                               intra_op_num_threads=2)  # the same pipeline class on an ONNX Runtime runner
        assert isinstance(est.runner, OrtRunner) and est.runner.path == path
        got = est(image, boxes=boxes)
        assert got.keypoints.shape == ref.keypoints.shape == (2, 17, 2)
        np.testing.assert_allclose(got.scores, ref.scores, atol=1e-4)
        if not flip:  # with random weights, flip fusion makes mirrored SimCC bins tie exactly (argmax is arbitrary)
            assert np.abs(got.keypoints - ref.keypoints).max() <= 0.05


# ----------------------------------------------------------------------------------------------- BlazePose


def test_onnx_cache_is_reused(pose_files):
    from posekit.runtime.onnx_files import mediapipe_onnx_files

    folder, det, lm = pose_files
    stamps = (det.stat().st_mtime_ns, lm.stat().st_mtime_ns)
    assert mediapipe_onnx_files("blazepose_full", folder=folder) == (det, lm)
    assert (det.stat().st_mtime_ns, lm.stat().st_mtime_ns) == stamps
    assert det.name.startswith("pose_detection-") and lm.name.startswith("pose_landmark_full-")
    assert OrtRunner(det).metadata["posekit.network"] == "detector"


def test_blazepose_onnx_pipeline_gives_torch_landmarks(pose_files):
    from posekit.pipelines.mediapipe_pose import MEDIAPIPE_EXACT, blazepose_full

    folder = pose_files[0]
    image = _astronaut()
    # mp.solutions.pose-exact (the result is checked against MediaPipe's below)
    onnx_est = blazepose_full(backend="onnxruntime", folder=folder, intra_op_num_threads=2, **MEDIAPIPE_EXACT)
    torch_est = blazepose_full(**MEDIAPIPE_EXACT)
    assert isinstance(onnx_est.runner, OrtRunner) and isinstance(onnx_est.detector.runner, OrtRunner)
    assert (onnx_est.detector.runner.path, onnx_est.runner.path) == pose_files[1:]  # the cached files, reused
    dets_t, dets_o = torch_est.detector(image), onnx_est.detector(image)
    assert len(dets_t) == len(dets_o) == 1
    assert np.abs(dets_o.keypoints - dets_t.keypoints).max() < 1e-3  # pixels
    # same ROI: the landmark networks agree to well under 0.05 px
    lm_t = torch_est.predict_landmarks(image, detections=dets_t)
    lm_o = onnx_est.predict_landmarks(image, detections=dets_t)
    assert np.abs(lm_o.landmarks[..., :2] - lm_t.landmarks[..., :2]).max() <= 0.05
    np.testing.assert_allclose(lm_o.world_landmarks, lm_t.world_landmarks, atol=1e-3)
    np.testing.assert_allclose(lm_o.visibility, lm_t.visibility, atol=1e-3)
    # end to end, each with its own detector: a 1e-4 px ROI difference flips the rounding of a few crop pixels
    # (OpenCV's 1/32-pixel warp), which moves some landmarks by ~0.1 px (the torch pipeline shows the same against
    # MediaPipe, see tests/pipelines/test_mediapipe_pose.py); most landmarks stay within 0.05 px
    full_t, full_o = torch_est.predict_landmarks(image), onnx_est.predict_landmarks(image)
    err = np.linalg.norm(full_o.landmarks[0, :, :2] - full_t.landmarks[0, :, :2], axis=1)
    assert np.median(err) <= 0.05 and err.max() <= 0.25
    mp = np.load(shared_path(*FIX, "mp_solutions_pose_landmarks_33x5.npy"))
    err_mp = np.abs(full_o.poses.keypoints[0] - mp[:, :2] * 512).max(1)
    assert np.median(err_mp) <= 0.02 and err_mp.max() <= 0.25  # the torch pipeline's bound against MediaPipe


@pytest.mark.slow
def test_face_mesh_onnx_pipeline_gives_torch_landmarks(tmp_path):
    from posekit.pipelines.mediapipe_face import mediapipe_face_mesh

    image = _astronaut()
    torch_est, onnx_est = mediapipe_face_mesh(), mediapipe_face_mesh(backend="onnxruntime", folder=tmp_path)
    dets = torch_est.detector(image)
    assert len(dets) >= 1
    lm_t = torch_est.predict_landmarks(image, detections=dets)
    lm_o = onnx_est.predict_landmarks(image, detections=dets)
    assert len(lm_t) == len(lm_o) >= 1
    assert np.abs(lm_o.landmarks[..., :2] - lm_t.landmarks[..., :2]).max() <= 0.05


def test_unknown_model_is_a_clear_error(tmp_path):
    from posekit.runtime.onnx_files import export_model, mediapipe_onnx_files

    with pytest.raises(KeyError, match="unknown model 'rtmpose_t_coco_256x19'.*did you mean rtmpose_t_coco_256x192"):
        export_model("rtmpose_t_coco_256x19", tmp_path)
    with pytest.raises(ValueError, match="not a MediaPipe model"):
        mediapipe_onnx_files("rtmpose_t_coco_256x192", folder=tmp_path)
    with pytest.raises(ValueError, match="two networks"):
        export_model("blazepose_full", tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------------- CLI


def _posekit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "posekit.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env=env)


def test_cli_export_rtmpose_t(tmp_path):
    res = _posekit("export", "--model", "rtmpose_t_coco_256x192", "--out", "tmp", "--random-weights", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    path = tmp_path / "tmp" / "rtmpose_t_coco_256x192.onnx"
    assert path.is_file() and str(Path("tmp") / path.name) in res.stdout and "max error" in res.stdout
    om = OrtRunner(path)
    sx, sy = om(np.zeros((1, 3, 256, 192), np.float32))
    assert sx.shape == (1, 17, 384) and sy.shape == (1, 17, 512)
    assert json.loads(om.metadata["posekit.mean"]) == [123.675, 116.28, 103.53]


def test_cli_export_without_weights_is_refused_offline(tmp_path, offline):
    res = _posekit("export", "--model", "rtmpose_t_coco_256x192", "--out", "tmp", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    url = get_entry("rtmpose_t_coco_256x192").weights.url
    assert url in res.stderr and "--weights PATH" in res.stderr and "--random-weights" in res.stderr
    assert not (tmp_path / "tmp").exists()


def test_cli_export_unknown_model_and_format(tmp_path):
    res = _posekit("export", "--model", "rtmpose_x", "--out", "tmp", cwd=tmp_path)
    assert res.returncode == 2 and "unknown model 'rtmpose_x'" in res.stderr
    res = _posekit("export", "--model", "rtmpose_t_coco_256x192", "--format", "tflite", cwd=tmp_path)
    assert res.returncode == 2 and "format" in res.stderr and "onnx" in res.stderr
    assert list(tmp_path.iterdir()) == []
