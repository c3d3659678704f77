"""PoseSample / LoadReport records and the joint-derived box."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.sample import LoadReport, PoseSample, SkippedRecord, box_from_keypoints
from posekit.skeletons import coco17, lsp14


def _sample(**kw):
    args = dict(image_path=None, keypoints=np.arange(34, dtype=np.float64).reshape(17, 2), visible=np.ones(17),
                box=[0, 0, 10, 20], skeleton=coco17, image_id=7, meta={"area": 3.0})
    args.update(kw)
    return PoseSample(**args)


def test_sample_copies_inputs_and_is_read_only():
    kpts = np.arange(34, dtype=np.float64).reshape(17, 2)
    flags = np.zeros(17)
    meta = {"flags": flags}
    s = _sample(keypoints=kpts, meta=meta)
    kpts[0, 0] = 99.0
    flags[0] = 5.0
    assert s.keypoints.dtype == np.float32 and s.keypoints[0, 0] == 0.0
    assert s.meta["flags"][0] == 0.0
    with pytest.raises(ValueError):
        s.keypoints[0, 0] = 1.0
    with pytest.raises(TypeError):
        s.meta["area"] = 1.0  # type: ignore[index]
    assert s.box.dtype == np.float32 and s.box.tolist() == [0, 0, 10, 20]


def test_sample_unlabelled_keypoint_is_never_visible():
    kpts = np.ones((17, 2))
    kpts[3] = np.nan
    kpts[4, 1] = np.inf
    s = _sample(keypoints=kpts, visible=np.ones(17))
    assert np.isnan(s.keypoints[[3, 4]]).all()
    assert s.visible[3] == 0 and s.visible[4] == 0 and s.num_labelled == 15


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(keypoints=np.zeros((14, 2))),
         r"keypoints must have shape \(17, 2\) for skeleton 'coco17', got \(14, 2\)"),
        (dict(visible=np.ones(16)), r"visible must have shape \(17,\)"),
        (dict(visible=np.full(17, 2.0)), r"visible must lie in \[0, 1\]"),
        (dict(box=[0, 0, 1]), r"box must be 4 finite numbers"),
    ],
)
def test_sample_rejects_bad_fields(kw, match):
    with pytest.raises(ValueError, match=match):
        _sample(**kw)


def test_box_from_keypoints():
    kpts = np.array([[10.0, 20.0], [30.0, 60.0], [np.nan, np.nan]])
    np.testing.assert_allclose(box_from_keypoints(kpts, padding=1.0), [10, 20, 30, 60])
    np.testing.assert_allclose(box_from_keypoints(kpts, padding=1.5), [5, 10, 35, 70])
    assert box_from_keypoints(np.full((3, 2), np.nan)) is None
    with pytest.raises(ValueError, match="padding"):
        box_from_keypoints(kpts, padding=0)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        box_from_keypoints(np.zeros((3, 3)))


def test_report_counts_and_summary(tmp_path):
    skipped = (SkippedRecord(0, "missing_image", "x"), SkippedRecord(2, "missing_image", "y"),
               SkippedRecord(5, "bad_shape", "z"))
    report = LoadReport(tmp_path / "a.json", 6, 3, skipped)
    assert report.counts() == {"missing_image": 2, "bad_shape": 1}
    assert report.summary() == "a.json: 3 of 6 records loaded; skipped: bad_shape 1, missing_image 2"
    with pytest.raises(ValueError, match="reason must be one of"):
        SkippedRecord(0, "oops", "bad")  # type: ignore[arg-type]


def test_sample_requires_skeleton():
    with pytest.raises(TypeError, match="Skeleton"):
        PoseSample(None, np.zeros((14, 2)), np.zeros(14), None, "lsp14")  # type: ignore[arg-type]
    assert PoseSample(None, np.zeros((14, 2)), np.zeros(14), None, lsp14).box is None
