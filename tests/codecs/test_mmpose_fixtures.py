"""Codec parity with MMPose 1.3.2: ../shared/fixtures/mmpose/codecs/*.npz (README section 3).

Every case encodes all 6 fixture instances in one batched call and decodes the stored synthetic model
outputs. Every value must equal MMPose's bit for bit (``assert_array_equal``, no tolerance). Where MMPose
returns NaN (DARK / UDP decodes of all-zero targets in the roundtrips), our documented behaviour is checked
instead: the plain argmax location (-1 map units) with score 0.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap, Regression, SimCC, UDPHeatmap
from tests.conftest import shared_path


def _codec(config: dict):
    """Our codec for an MMPose codec config as written in ``_index.json``."""
    cfg = dict(config)
    kind = cfg.pop("type")
    if kind == "MSRAHeatmap":
        return MSRAHeatmap(cfg.pop("input_size"), cfg.pop("heatmap_size"), **cfg)
    if kind == "UDPHeatmap":
        return UDPHeatmap(cfg.pop("input_size"), cfg.pop("heatmap_size"), **cfg)
    if kind == "SimCCLabel":
        return SimCC(cfg.pop("input_size"), **cfg)
    if kind == "RegressionLabel":
        return Regression(cfg.pop("input_size"))
    raise AssertionError(f"unexpected codec type {kind}")


CASES = [
    "msra_sigma2",
    "msra_sigma2_dark",
    "msra_sigma3_dark_384",
    "udp_sigma2",
    "simcc_rtmpose",
    "simcc_dark",
    "simcc_normalize_vis",
    "regression",
]


@pytest.fixture(scope="module")
def index() -> dict:
    return json.loads(shared_path("fixtures", "mmpose", "codecs", "_index.json").read_text())


def _load(name: str) -> dict:
    with np.load(shared_path("fixtures", "mmpose", "codecs", f"{name}.npz")) as data:
        return {k: data[k] for k in data.files}


def _invalid_location(codec) -> np.ndarray:
    """Input-space position of map location -1 (what an all-zero map decodes to)."""
    if isinstance(codec, SimCC):
        return np.full(2, -1 / codec.simcc_split_ratio, dtype=np.float32)
    if isinstance(codec, UDPHeatmap):
        W, H = codec.heatmap_size
        return (-1 / np.array([W - 1, H - 1]) * np.array(codec.input_size)).astype(np.float32)
    return -codec.scale_factor


def test_index_lists_every_case(index):
    assert sorted(k for k, v in index.items() if isinstance(v, dict) and "codec" in v) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_encode_matches_mmpose(name, index):
    codec, d = _codec(index[name]["codec"]), _load(name)
    kp, vis = d["enc_keypoints"], d["enc_keypoints_visible"]
    kp_before, vis_before = kp.copy(), vis.copy()
    targets = codec.encode(kp, vis)
    np.testing.assert_array_equal(kp, kp_before)  # inputs untouched
    np.testing.assert_array_equal(vis, vis_before)
    np.testing.assert_array_equal(targets.keypoint_weights, d["enc_keypoint_weights"])
    assert targets.keypoint_weights.dtype == np.float32
    if isinstance(codec, SimCC):
        outputs = {"x_labels": "enc_x_labels", "y_labels": "enc_y_labels"}
    elif isinstance(codec, Regression):
        outputs = {"keypoint_labels": "enc_keypoint_labels"}
    else:
        outputs = {"heatmaps": "enc_heatmaps"}
    for ours, ref in outputs.items():
        got = getattr(targets, ours)
        assert got.shape == d[ref].shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, d[ref], err_msg=ours)


def _decode(codec, d: dict):
    if isinstance(codec, SimCC):
        return codec.decode(d["dec_simcc_x"], d["dec_simcc_y"])
    if isinstance(codec, Regression):
        return codec.decode(d["dec_coords"])
    return codec.decode(d["dec_heatmaps"])


@pytest.mark.parametrize("name", CASES)
def test_decode_matches_mmpose(name, index):
    codec, d = _codec(index[name]["codec"]), _load(name)
    out = _decode(codec, d)
    assert out.keypoints.dtype == np.float32 and out.scores.dtype == np.float32
    np.testing.assert_array_equal(out.keypoints, d["dec_keypoints"])
    np.testing.assert_array_equal(out.scores, d["dec_scores"])
    if "dec_visibility" in d:
        np.testing.assert_array_equal(out.visibility, d["dec_visibility"])
    else:
        assert out.visibility is None
    if "dec_coords_sigma" in d:
        with_sigma = codec.decode(d["dec_coords_sigma"])
        np.testing.assert_array_equal(with_sigma.keypoints, d["dec_sigma_keypoints"])
        np.testing.assert_array_equal(with_sigma.scores, d["dec_sigma_scores"])


@pytest.mark.parametrize("name", [c for c in CASES if c != "regression"])
def test_roundtrip_matches_mmpose(name, index):
    codec, d = _codec(index[name]["codec"]), _load(name)
    targets = codec.encode(d["enc_keypoints"], d["enc_keypoints_visible"])
    if isinstance(codec, SimCC):
        out = codec.decode(targets.x_labels, targets.y_labels)
    else:
        out = codec.decode(targets.heatmaps)
    ref_kp, ref_scores = d["roundtrip_keypoints"], d["roundtrip_scores"]
    nan = np.isnan(ref_kp).any(axis=-1)
    ok = ~nan
    np.testing.assert_array_equal(out.keypoints[ok], ref_kp[ok])
    np.testing.assert_array_equal(out.scores[ok], ref_scores[ok])
    assert np.isfinite(out.keypoints).all() and np.isfinite(out.scores).all()
    if name in ("udp_sigma2", "simcc_dark"):
        assert nan.sum() >= 10  # the fixture does exercise MMPose's NaN case
    # Documented behaviour where MMPose gives NaN: those targets are all zero -> location -1, score 0.
    expected = np.broadcast_to(_invalid_location(codec), out.keypoints[nan].shape)
    np.testing.assert_array_equal(out.keypoints[nan], expected)
    np.testing.assert_array_equal(out.scores[nan], 0)


@pytest.mark.parametrize("name", ["msra_sigma2_dark", "udp_sigma2", "simcc_dark", "regression"])
def test_decode_torch_tensor_equals_numpy(name, index):
    import torch  # a posekit dependency; the codecs themselves need only numpy
    codec, d = _codec(index[name]["codec"]), _load(name)
    ref = _decode(codec, d)
    tensors = {k: torch.from_numpy(v) for k, v in d.items() if k.startswith("dec_") and v.ndim >= 3}
    out = _decode(codec, tensors)
    assert isinstance(out.keypoints, np.ndarray) and isinstance(out.scores, np.ndarray)
    np.testing.assert_array_equal(out.keypoints, ref.keypoints)
    np.testing.assert_array_equal(out.scores, ref.scores)
