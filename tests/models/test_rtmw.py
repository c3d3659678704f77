"""RTMW (CSPNeXt + MMPose's CSPNeXtPAFPN + RTMWHead) and the AP-10K RTMPose against MMPose 1.3.2.

Parity fixtures: tests/fixtures/wholebody_parity (reduced random models made by MMPose itself, with their raw SimCC
outputs on two real crops and ``inference_topdown`` keypoints on real images with given boxes, flip test on). The
fixtures hold no image data: the crops are cut here again, with posekit's own preprocessing, from the images in
../shared, and checked bit for bit against the sha256 digests of MMPose's crops and model inputs.
Layouts: tests/fixtures/mmpose_layouts (the five full-size cocktail14 configs as MMPose builds them).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit import skeletons
from posekit.crops import box_to_center_scale, fix_aspect_ratio, warp_crops, warp_matrix
from posekit.models.heads.rtmw import RTMWHead
from posekit.models.mmpose_cfg import from_mmpose_cfg
from posekit.models.necks.cspnext_pafpn import CSPNeXtPAFPN
from posekit.models.registry import get_entry
from posekit.models.rtmw import CHECKPOINTS, MODELS, rtmw
from posekit.models.topdown import load_weights
from posekit.pipelines.topdown import TopDownEstimator
from tests.conftest import shared_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARITY = FIXTURES / "wholebody_parity"
LAYOUTS = FIXTURES / "mmpose_layouts"
SKELETONS = {"rtmw_tiny": skeletons.coco_wholebody133, "rtmpose_ap10k_tiny": skeletons.ap10k17}
# raw outputs: max|posekit - mmpose| <= RTOL * max|mmpose| over the whole (B, K, bins) array. Observed: 0 with one
# thread (same summation order as the generator), <= 3.9e-6 with 2 threads or channels_last.
RTOL = 1e-5
PX = 1e-2  # keypoints, image pixels (max over all keypoints and both coordinates; observed 0)


def _score_atol(cases: dict) -> float:
    """Scores are SimCC maxima of the flip-fused logits: the raw tolerance, in logit units."""
    return RTOL * max(np.abs(cases["out_simcc_x"]).max(), np.abs(cases["out_simcc_y"]).max())


def _fixture_file(name: str) -> Path:
    path = PARITY / name  # committed: a missing file is a failure, not a skip
    assert path.is_file(), f"{path} is absent (tests/fixtures/wholebody_parity/make_parity_fixtures.py makes it)"
    return path


def _relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def _digests(arrays: np.ndarray) -> list[str]:
    """sha256 of each row's C-order bytes (as the generator hashes MMPose's crops and inputs)."""
    return [hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for a in arrays]


def _read_bgr(file: str) -> np.ndarray:
    """A test image of ../shared as ``cv2.imread`` decodes it (BGR uint8), as the generator read it."""
    import cv2

    path = shared_path("data", "mmpose_testdata", "tests", "data", file)
    bgr = cv2.imread(str(path))
    assert bgr is not None, f"cannot read {path}"
    return bgr


class _RecordingRunner:
    """Stands in for a :class:`TopDownEstimator`'s runner: keeps a copy of every batch the pipeline sends, then
    runs it."""

    def __init__(self, runner) -> None:
        self._runner = runner
        self.batches: list[np.ndarray] = []

    def __getattr__(self, name: str):
        return getattr(self._runner, name)

    def __call__(self, batch: np.ndarray):
        self.batches.append(np.ascontiguousarray(batch))
        return self._runner(batch)


@pytest.fixture(scope="module", params=sorted(SKELETONS))
def parity(request, tmp_path_factory):
    """(name, config dict, model with the fixture's weights loaded strictly from an official container, spec,
    cases)."""
    name = request.param
    config = json.loads(_fixture_file(f"{name}_config.json").read_text())
    with np.load(_fixture_file(f"{name}_state_dict.npz"), allow_pickle=False) as data:
        state = {k: torch.from_numpy(data[k].copy()) for k in data.files}
    path = tmp_path_factory.mktemp(name) / f"{name}.pth"
    torch.save({"meta": config["checkpoint_meta"], "state_dict": state}, path)
    model, spec = from_mmpose_cfg(config["model"], skeleton=SKELETONS[name])
    load_weights(model, path)  # strict; the float16 tensors are copied into float32 parameters
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with np.load(_fixture_file(f"{name}_cases.npz"), allow_pickle=False) as data:
        cases = dict(data)
    return name, config, model.eval(), spec, cases, list(state)


@pytest.fixture(scope="module")
def rebuilt(parity):
    """posekit's own crops of the fixture's boxes and the model input its pipeline makes of them.

    The crops are cut as :meth:`TopDownEstimator.estimate` cuts them (``box_to_center_scale`` ->
    ``fix_aspect_ratio`` -> ``warp_matrix`` -> ``warp_crops``), from the BGR image as MMPose's ``TopdownAffine`` does
    (the warp keeps the channel order); the input is what :meth:`TopDownEstimator.predict_crops` hands its runner for
    the RGB crops (flip test off: only the crops). Returns a dict: ``images`` (sha256 of each decoded image),
    ``crops_bgr`` (B, H, W, 3) uint8, ``center`` / ``scale`` (B, 2) float32, ``input`` (B, 3, H, W) float32, in the
    fixture's row order."""
    _, config, model, spec, cases, _ = parity
    w, h = spec.input_size
    n = len(cases["bboxes"])
    crops_bgr = np.zeros((n, h, w, 3), np.uint8)
    center = np.zeros((n, 2), np.float32)
    scale = np.zeros((n, 2), np.float32)
    images = []
    for i, image in enumerate(config["images"]):
        bgr = _read_bgr(image["file"])
        images.append(_digests(bgr[None])[0])
        rows = cases["image_index"] == i
        c, s = box_to_center_scale(cases["bboxes"][rows], padding=spec.padding)
        center[rows] = c
        scale[rows] = fix_aspect_ratio(s, aspect_ratio=w / h)
        matrices = warp_matrix(center[rows], scale[rows], (w, h), udp=spec.udp)
        crops_bgr[rows] = warp_crops(bgr, matrices, (w, h))
    est = TopDownEstimator(model, None, spec=spec, flip_test=False, channels_last=False)
    est.runner = recorder = _RecordingRunner(est.runner)
    est.predict_crops(np.ascontiguousarray(crops_bgr[..., ::-1]), center, scale)
    (x,) = recorder.batches
    assert x.shape == (n, 3, h, w) and x.dtype == np.float32
    return {"images": images, "crops_bgr": crops_bgr, "center": center, "scale": scale, "input": x}


def test_fixture_keys_in_mmpose_order(parity):
    _, config, model, _, _, keys = parity
    assert list(model.state_dict()) == keys
    assert sum(p.numel() for p in model.parameters()) == config["num_params"]


def test_spec_follows_config(parity):
    _, config, _, spec, _, _ = parity
    codec = config["model"]["head"]["decoder"]
    assert spec.input_size == tuple(codec["input_size"])
    assert spec.codec.sigma == tuple(codec["sigma"]) and spec.codec.simcc_split_ratio == 2.0
    assert spec.flip_test is True and spec.udp is False
    assert list(spec.skeleton.flip_indices) == config["flip_indices"]  # MMPose's dataset meta


def test_crops_match_mmpose(parity, rebuilt):
    """posekit's crops (uint8 BGR) and normalised model inputs (float32) are MMPose's, bit for bit."""
    name, config, _, _, cases, _ = parity
    assert rebuilt["images"] == [image["bgr_sha256"] for image in config["images"]], \
        f"{name}: this OpenCV decodes the JPEG(s) differently"
    np.testing.assert_array_equal(rebuilt["center"], cases["input_center"])
    np.testing.assert_array_equal(rebuilt["scale"], cases["input_scale"])
    crops = rebuilt["crops_bgr"]
    means = crops.reshape(len(crops), -1, 3).mean(axis=1)
    assert _digests(crops) == list(cases["crop_bgr_sha256"]), (
        f"{name}: posekit's crops differ from MMPose's; channel means {means.tolist()} vs "
        f"{cases['crop_bgr_channel_mean'].tolist()}")
    assert _digests(rebuilt["input"]) == list(cases["input_sha256"]), \
        f"{name}: same crops, but the normalised input differs from MMPose's (x - mean) / std"


def test_raw_simcc_parity(parity, rebuilt):
    """Raw SimCC outputs on the model input posekit's pipeline makes of its own crops (MMPose's, bit for bit:
    test_crops_match_mmpose)."""
    name, _, model, _, cases, _ = parity
    x = torch.from_numpy(rebuilt["input"])
    with torch.no_grad():
        got = model(x)
    for out, key in zip(got, ("out_simcc_x", "out_simcc_y")):
        ref = cases[key]
        assert out.shape == ref.shape and out.dtype == torch.float32
        err = _relative_error(out.numpy(), ref)
        assert err <= RTOL, f"{name} {key}: max|diff| / max|ref| = {err:.2e}"


def test_pipeline_on_mmpose_inputs(parity, rebuilt):
    """Flip test, fusion, SimCC decode and back-projection from MMPose's own model inputs (rebuilt from the image:
    bit-identical, see test_crops_match_mmpose) and MMPose's crop centres / scales."""
    name, _, model, spec, cases, _ = parity
    est = TopDownEstimator(model, None, spec=spec)
    kpts, scores = est.predict_inputs(rebuilt["input"], cases["input_center"], cases["input_scale"])
    assert np.abs(kpts - cases["pred_keypoints"]).max() <= PX, name
    np.testing.assert_allclose(scores, cases["pred_scores"], rtol=0, atol=_score_atol(cases))


def test_end_to_end_matches_inference_topdown(parity):
    """posekit's top-down pipeline on the real image(s) with MMPose's boxes (its own crops) vs ``inference_topdown``."""
    name, config, model, spec, cases, _ = parity
    est = TopDownEstimator(model, None, spec=spec)
    assert set(np.unique(cases["image_index"]).tolist()) == set(range(len(config["images"]))) != set()
    for i, image in enumerate(config["images"]):
        bgr = _read_bgr(image["file"])
        digest = hashlib.sha256(np.ascontiguousarray(bgr).tobytes()).hexdigest()
        assert digest == image["bgr_sha256"], f"{image['file']}: this OpenCV decodes the JPEG differently"
        rows = cases["image_index"] == i
        out = est.estimate(np.ascontiguousarray(bgr[..., ::-1]), boxes=cases["bboxes"][rows])
        np.testing.assert_allclose(out.center, cases["input_center"][rows], rtol=1e-6)
        np.testing.assert_allclose(out.scale, cases["input_scale"][rows], rtol=1e-6)
        err = np.abs(out.keypoints - cases["pred_keypoints"][rows]).max()
        assert err <= PX, f"{name} {image['file']}: max keypoint error {err:.2e} px"
        np.testing.assert_allclose(out.scores, cases["pred_scores"][rows], rtol=0, atol=_score_atol(cases))


def test_missing_and_unexpected_keys_are_named(parity, tmp_path):
    name, config, model, _, _, _ = parity
    state = {k: v.clone() for k, v in model.state_dict().items()}
    dropped = "head.cls_y.weight"
    del state[dropped]
    state["head.extra_layer.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pth"
    torch.save({"meta": {}, "state_dict": state}, path)
    fresh, _ = from_mmpose_cfg(config["model"], skeleton=SKELETONS[name])
    with pytest.raises(ValueError, match=r"head\.cls_y\.weight") as err:
        load_weights(fresh, path)
    assert "head.extra_layer.weight" in str(err.value) and "bad.pth" in str(err.value)


def _layout(config: str) -> dict:
    path = LAYOUTS / f"{config}.json"  # committed: a missing file is a failure, not a skip
    assert path.is_file(), f"{path} is absent (layout manifests, tests/fixtures/mmpose_layouts/make_layouts.py)"
    return json.loads(path.read_text())


@pytest.mark.parametrize("row", CHECKPOINTS, ids=lambda r: r.name)
def test_registry_entry_matches_official_layout(row):
    layout = _layout(row.config)
    with torch.device("meta"):
        model = posekit.create_model(row.name, device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(layout["state_dict"])  # same keys, same order
    assert got == layout["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    # the builder's settings are those of the config (codec, flip test, skeleton)
    _, spec = from_mmpose_cfg(layout["model_cfg"], skeleton=skeletons.coco_wholebody133)
    assert model.spec == spec
    assert list(model.spec.skeleton.flip_indices) == layout["dataset_meta"]["flip_indices"]
    assert layout["official_weights_url"] == row.url


def test_registry_rows():
    assert [e.name for e in MODELS] == ["rtmw_m_wholebody_256x192", "rtmw_l_wholebody_256x192",
                                        "rtmw_x_wholebody_256x192", "rtmw_l_wholebody_384x288",
                                        "rtmw_x_wholebody_384x288"]
    for row, entry in zip(CHECKPOINTS, MODELS):
        assert entry.task == "wholebody" and entry.skeleton is skeletons.coco_wholebody133
        assert set(row.metrics) == {"wholebody_ap", "wholebody_ar", "body_ap", "foot_ap", "face_ap", "hand_ap"}
        assert all(0 < v < 1 for v in row.metrics.values())
        tag = row.filename.rsplit("-", 1)[-1].split("_")[0]  # "13a2546d" or "20231122.pth" (a date: no hash)
        assert row.sha256 == (tag if row.sha256 else None) and entry.weights.sha256 == row.sha256
    assert [r.sha256 for r in CHECKPOINTS] == [None, None, "13a2546d", None, "f840f204"]
    assert get_entry("rtmw_x_wholebody_384x288").weights.input_size == (288, 384)


@pytest.mark.parametrize(("input_size", "bins"), [((192, 256), (384, 512)), ((288, 384), (576, 768))])
def test_rtmw_m_forward_shapes(input_size, bins):
    model, spec = rtmw("m", input_size=input_size)
    w, h = input_size
    with torch.no_grad():
        sx, sy = model.eval()(torch.randn(1, 3, h, w))
    assert tuple(sx.shape) == (1, 133, bins[0]) and tuple(sy.shape) == (1, 133, bins[1])
    assert spec.codec.sigma == {(192, 256): (4.9, 5.66), (288, 384): (6.0, 6.93)}[input_size]
    assert spec.codec.decode_visibility == (input_size == (288, 384))  # the 384x288 configs' codec


def test_builder_and_config_errors():
    with pytest.raises(ValueError, match="size"):
        rtmw("s")
    with pytest.raises(ValueError, match="input_size"):
        rtmw("m", input_size=(256, 256))
    layout = _layout(CHECKPOINTS[0].config)["model_cfg"]
    with pytest.raises(ValueError, match="out_channels"):
        from_mmpose_cfg({**layout, "neck": {**layout["neck"], "out_channels": 256}})
    head = {**layout["head"], "gau_cfg": {**layout["head"]["gau_cfg"], "use_rel_bias": True}}
    with pytest.raises(ValueError, match="use_rel_bias"):
        from_mmpose_cfg({**layout, "head": head})


def test_neck_and_head_shape_checks():
    neck = CSPNeXtPAFPN([8, 16, 32], out_indices=(1, 2), num_csp_blocks=1).eval()
    feats = (torch.randn(1, 8, 16, 12), torch.randn(1, 16, 8, 6), torch.randn(1, 32, 4, 3))
    with torch.no_grad():
        outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(1, 16, 8, 6), (1, 32, 4, 3)]
    with pytest.raises(ValueError, match=r"\(B, 16, H, W\)"):
        neck((feats[0], feats[0], feats[2]))
    head = RTMWHead(32, 5, (96, 128), (3, 4), final_layer_kernel_size=7, hidden_dims=16, s=8).eval()
    with torch.no_grad():
        sx, sy = head(outs)
    assert tuple(sx.shape) == (1, 5, 192) and tuple(sy.shape) == (1, 5, 256)
    with pytest.raises(ValueError, match=r"enc_b of shape \(B, 16, 8, 6\)"):
        head((outs[1], outs[1]))
