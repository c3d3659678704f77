"""Detector skeletons (COCO-17, BlazePose-33) -> h36m17 2D joints, including the synthesised ones."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import BLAZEPOSE33_TO_COCO17, blazepose33, coco17, h36m17, lsp14
from posekit.threed.to_h36m import (
    HEAD_TOP_FACTOR,
    NECK_FACTOR,
    SHOULDER_FACTOR,
    to_h36m17,
)


def _coco(rng: np.random.Generator, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0, 640, size=(n, 17, 2)), rng.uniform(0.5, 1.0, size=(n, 17))


def _c(name: str) -> int:
    return coco17.index(name)


def _h(name: str) -> int:
    return h36m17.index(name)


def test_coco17_placement_follows_the_documented_rules():
    kp, sc = _coco(np.random.default_rng(0))
    out, out_s = to_h36m17(kp, sc, coco17)
    assert out.shape == (3, 17, 2) and out.dtype == np.float32 and out_s.shape == (3, 17)
    mid = lambda a, b: (kp[:, _c(a)] + kp[:, _c(b)]) / 2
    pelvis, thorax, centre = mid("left_hip", "right_hip"), mid("left_shoulder", "right_shoulder"), mid(
        "left_ear", "right_ear")
    np.testing.assert_allclose(out[:, _h("root")], pelvis, rtol=1e-6)
    np.testing.assert_allclose(out[:, _h("thorax")], thorax, rtol=1e-6)
    np.testing.assert_allclose(out[:, _h("spine")], (pelvis + thorax) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[:, _h("neck_base")], thorax + NECK_FACTOR * (centre - thorax), rtol=1e-5)
    np.testing.assert_allclose(out[:, _h("head")], thorax + HEAD_TOP_FACTOR * (centre - thorax), rtol=1e-5)
    for side in ("left", "right"):
        np.testing.assert_allclose(out[:, _h(f"{side}_shoulder")],
                                   thorax + SHOULDER_FACTOR * (kp[:, _c(f"{side}_shoulder")] - thorax), rtol=1e-5)
    # the factors are the CMU placement's: neck 0.75 and head top 1.45 of thorax -> head centre, shoulders 0.8
    assert (NECK_FACTOR, HEAD_TOP_FACTOR, SHOULDER_FACTOR) == (0.75, 1.45, 0.8)
    for h, c in (("right_foot", "right_ankle"), ("left_knee", "left_knee"), ("right_wrist", "right_wrist"),
                 ("left_elbow", "left_elbow")):
        np.testing.assert_allclose(out[:, _h(h)], kp[:, _c(c)], rtol=1e-6)
        np.testing.assert_allclose(out_s[:, _h(h)], sc[:, _c(c)], rtol=1e-6)
    # a synthesised joint is as confident as its weakest source
    np.testing.assert_allclose(out_s[:, _h("root")], np.minimum(sc[:, _c("left_hip")], sc[:, _c("right_hip")]),
                               rtol=1e-6)


def test_head_centre_falls_back_to_one_ear_then_the_nose():
    kp, sc = _coco(np.random.default_rng(1), n=2)
    kp[0, _c("left_ear")] = np.nan
    sc[1, _c("left_ear")] = sc[1, _c("right_ear")] = 0.1  # below min_score: missing
    out, _ = to_h36m17(kp, sc, coco17, min_score=0.3)
    thorax = (kp[:, _c("left_shoulder")] + kp[:, _c("right_shoulder")]) / 2
    np.testing.assert_allclose(out[0, _h("neck_base")], thorax[0] + NECK_FACTOR * (kp[0, _c("right_ear")] - thorax[0]),
                               rtol=1e-5)
    np.testing.assert_allclose(out[1, _h("neck_base")], thorax[1] + NECK_FACTOR * (kp[1, _c("nose")] - thorax[1]),
                               rtol=1e-5)


def test_missing_sources_make_missing_joints_and_inputs_are_untouched():
    kp, sc = _coco(np.random.default_rng(2), n=1)
    kp_before, sc_before = kp.copy(), sc.copy()
    sc[0, _c("left_hip")] = 0.0
    sc_before = sc.copy()
    out, out_s = to_h36m17(kp, sc, coco17, min_score=0.3)
    for name in ("root", "spine", "left_hip"):
        assert np.isnan(out[0, _h(name)]).all() and out_s[0, _h(name)] == 0
    assert np.isfinite(out[0, _h("right_hip")]).all()
    np.testing.assert_array_equal(kp, kp_before)
    np.testing.assert_array_equal(sc, sc_before)


def test_blazepose33_gives_the_same_joints_as_its_coco17_subset():
    rng = np.random.default_rng(3)
    kp, sc = rng.uniform(0, 500, size=(4, 33, 2)), rng.uniform(0.4, 1.0, size=(4, 33))
    via_coco = BLAZEPOSE33_TO_COCO17.apply(kp, sc)
    np.testing.assert_allclose(to_h36m17(kp, sc, blazepose33)[0], to_h36m17(*via_coco, coco17)[0], rtol=1e-6)


def test_h36m17_passes_through_and_bad_input_is_a_clear_error():
    kp = np.random.default_rng(4).uniform(0, 100, size=(2, 17, 2))
    np.testing.assert_allclose(to_h36m17(kp, None, h36m17)[0], kp, rtol=1e-6)
    with pytest.raises(ValueError, match=r"keypoints must have shape \(\.\.\., 17, 2\)"):
        to_h36m17(np.zeros((2, 16, 2)), None, coco17)
    with pytest.raises(ValueError, match="scores must have shape"):
        to_h36m17(np.zeros((2, 17, 2)), np.zeros((2, 16)), coco17)
    with pytest.raises(ValueError, match="lacks keypoints"):
        to_h36m17(np.zeros((1, 14, 2)), None, lsp14)


def test_detector_joints_land_where_the_cmu_placement_puts_them(cmu_amc_dir, walk_h36m):
    """COCO-like keypoints read off the CMU walk (shoulders = clavicle ends, ears = skull base, hips / limbs = the
    h36m17 ones), seen from the front (x, y) and the side (z, y): the synthesised head, neck, thorax and shoulders
    fall within 2.5 cm of the mocap placement the lifters are trained on (measured: <= 17 mm)."""
    from posekit.threed import asf_amc

    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    raw = asf_amc.forward_kinematics(sk, asf_amc.read_amc(cmu_amc_dir / "02_01.amc"))[::4]
    p = {n: raw[:, i] for i, n in enumerate(sk.joint_names)}
    h = walk_h36m
    coco = np.zeros((len(h), 17, 3))
    for name in ("left_hip", "right_hip", "left_knee", "right_knee", "left_elbow", "right_elbow", "left_wrist",
                 "right_wrist"):
        coco[:, _c(name)] = h[:, _h(name)]
    coco[:, _c("left_ankle")], coco[:, _c("right_ankle")] = h[:, _h("left_foot")], h[:, _h("right_foot")]
    coco[:, _c("left_shoulder")], coco[:, _c("right_shoulder")] = p["lclavicle"], p["rclavicle"]
    for name in ("left_ear", "right_ear", "nose", "left_eye", "right_eye"):
        coco[:, _c(name)] = p["upperneck"]
    for view in ([0, 1], [2, 1]):
        out, _ = to_h36m17(coco[..., view], None, coco17)
        for name in ("thorax", "neck_base", "head", "left_shoulder", "right_shoulder"):
            err = np.linalg.norm(out[:, _h(name)] - h[:, _h(name)][:, view], axis=-1)
            assert err.max() < 25.0, (view, name, err.max())
