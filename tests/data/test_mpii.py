"""MPII loaders: pose-hg-train's hg_valid.h5 (head sizes, boxes) against MMPose's own MPII annotations, and the CSVs."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from posekit.data.mpii import load_mpii, load_mpii_csv
from posekit.skeletons import mpii16
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def valid():
    path = shared_path("data", "mpii", "hg_valid.h5")
    with h5py.File(path, "r") as f:
        raw = {k: f[k][()] for k in f}
    samples, report = load_mpii(path)
    return raw, samples, report


def test_hg_valid_fields(valid):
    raw, samples, report = valid
    assert len(samples) == 2958 and report.skipped == ()
    s = samples[0]
    assert s.skeleton is mpii16 and s.image_id == "005808361.jpg" and s.image_path is None
    part = raw["part"]
    labelled = ~(part == 0).all(-1)
    kpts = np.stack([x.keypoints for x in samples])
    np.testing.assert_array_equal(np.isfinite(kpts[..., 0]), labelled)
    np.testing.assert_array_equal(kpts[labelled], (part[labelled] - 0.5).astype(np.float32))  # MATLAB 1-based
    np.testing.assert_array_equal(np.stack([x.visible for x in samples]), raw["visible"] * labelled)
    np.testing.assert_array_equal([x.meta["head_size"] for x in samples], raw["normalize"])
    np.testing.assert_array_equal([x.meta["index"] for x in samples], raw["index"].astype(int))
    # box: the square pose-hg-train crops, 200 * scale px around the (adjusted) centre
    box = np.stack([x.box for x in samples])
    np.testing.assert_allclose(box[:, 2] - box[:, 0], 200 * raw["scale"], rtol=1e-5)
    np.testing.assert_allclose((box[:, :2] + box[:, 2:]) / 2, raw["center"] - 0.5, rtol=1e-5)


def test_head_size_is_the_pckh_head_size(valid):
    # MPII's head box spans the upper-neck -> head-top segment; 0.6 x its diagonal is ~0.75 x that segment
    _, samples, _ = valid
    ratio = [s.meta["head_size"] / np.linalg.norm(s.keypoints[9] - s.keypoints[8])
             for s in samples if s.num_labelled and np.isfinite(s.keypoints[[8, 9]]).all()]
    assert len(ratio) > 2900 and 0.73 < np.median(ratio) < 0.77 and np.percentile(ratio, 99) < 0.8


def test_hg_valid_agrees_with_mmpose_mpii_json(valid):
    # MMPose's test_mpii.json holds 5 of these persons: joints with -1 for unlabelled and joints_vis = labelled
    _, samples, _ = valid
    records = json.loads(shared_path("data", "mmpose_testdata", "tests", "data", "mpii", "test_mpii.json").read_text())
    by_image = {}
    for s in samples:
        by_image.setdefault(s.image_id, []).append(s)
    for rec in records:
        joints, vis = np.asarray(rec["joints"]), np.asarray(rec["joints_vis"])
        match = [s for s in by_image[rec["image"]] if np.allclose(s.meta["center"][0] + 0.5, rec["center"][0])]
        assert len(match) == 1
        s = match[0]
        np.testing.assert_array_equal(np.isfinite(s.keypoints[:, 0]), vis == 1)
        # the .h5 casts joints to int; MMPose keeps the float originals (upper neck / head top are fractional)
        np.testing.assert_array_equal(s.keypoints[vis == 1] + 0.5, np.trunc(joints[vis == 1]))
        assert s.meta["scale"] == pytest.approx(rec["scale"] * 1.25, rel=1e-6)  # pose-hg-train's x 1.25


def test_one_based_false_keeps_raw_coordinates(valid):
    raw, samples, _ = valid
    plain, _ = load_mpii(shared_path("data", "mpii", "hg_valid.h5"), one_based=False)
    np.testing.assert_array_equal(plain[0].keypoints, raw["part"][0].astype(np.float32))
    np.testing.assert_allclose(plain[0].keypoints, samples[0].keypoints + 0.5)


def test_csv_rows_match_hg_annotations(valid):
    raw, samples, _ = valid
    csv_samples, report = load_mpii_csv(shared_path("data", "mpii", "deeppose_mpii_train_joints.csv"))
    assert len(csv_samples) == 17928 and report.skipped == ()
    # 005808361.jpg person 0 is in both; the .h5 stores joints cast to int, the CSV the float originals
    row = next(s for s in csv_samples if s.image_id == "005808361.jpg" and s.keypoints[0, 0] == 803.5)
    np.testing.assert_allclose(row.keypoints, samples[0].keypoints, atol=1.0)
    np.testing.assert_array_equal(row.keypoints[:8], samples[0].keypoints[:8])
    assert row.visible.tolist() == [1.0] * 16 and row.box is not None and row.skeleton is mpii16


def test_mpii_errors_and_bad_rows(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        load_mpii(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "partial.h5", "w") as f:
        f["imgname"] = np.array([b"a.jpg"])
        f["part"] = np.zeros((1, 16, 2))
    with pytest.raises(ValueError, match=r"lacks the field\(s\) \['visible', 'normalize', 'center', 'scale'\]"):
        load_mpii(tmp_path / "partial.h5")
    (tmp_path / "not.h5").write_text("plain text")
    with pytest.raises(ValueError, match="not.h5.*HDF5"):
        load_mpii(tmp_path / "not.h5")
    good = "a.jpg," + ",".join(["5"] * 32)
    (tmp_path / "j.csv").write_text("\n".join([good, "b.jpg,1,2", "c.jpg," + ",".join(["x"] * 32),
                                                "d.jpg," + ",".join(["-1"] * 32)]) + "\n")
    samples, report = load_mpii_csv(tmp_path / "j.csv", image_dir=tmp_path)
    assert report.counts() == {"bad_shape": 1, "bad_value": 1, "too_few_keypoints": 1, "missing_image": 1}
    (tmp_path / "a.jpg").write_bytes(b"")
    samples, report = load_mpii_csv(tmp_path / "j.csv", image_dir=tmp_path)
    assert len(samples) == 1 and samples[0].image_path == tmp_path / "a.jpg"
    np.testing.assert_array_equal(samples[0].keypoints, np.full((16, 2), 4.5, np.float32))
