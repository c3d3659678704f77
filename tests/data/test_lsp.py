"""LSP / LSP-extended loader on the real joints.mat files (layouts and flag meanings differ)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from posekit.data.lsp import LSP_TEST_INDICES, load_lsp
from posekit.data.sample import box_from_keypoints
from posekit.skeletons import lsp14
from tests.conftest import shared_path


def test_lsp_test_split_occlusion_flags():
    root = shared_path("data", "lsp")
    raw = scipy.io.loadmat(str(root / "joints.mat"))["joints"]  # (3, 14, 2000): x, y, occluded
    samples, report = load_lsp(root)
    assert len(samples) == 1000 and report.skipped == () and list(LSP_TEST_INDICES) == list(range(1000, 2000))
    assert [s.image_id for s in samples[:2]] == ["im1001", "im1002"] and all(s.image_path.is_file() for s in samples)
    kpts = np.stack([s.keypoints for s in samples])
    vis = np.stack([s.visible for s in samples])
    np.testing.assert_array_equal(kpts, raw[:2, :, 1000:].transpose(2, 1, 0).astype(np.float32))
    np.testing.assert_array_equal(vis, 1 - raw[2, :, 1000:].T)
    occluded = np.stack([s.meta["occluded"] for s in samples])
    assert 0.04 < occluded.mean() < 0.12  # a few joints per image hidden, most visible (7.3 % over all 2000)
    assert samples[0].skeleton is lsp14


def test_lsp_known_image_occluded_side():
    # im0004: a baseball player seen from his right; his left arm and left hip/knee are behind the body
    # (checked by eye on the image); LSP flags exactly those as occluded.
    samples, _ = load_lsp(shared_path("data", "lsp"), indices=[3])
    s = samples[0]
    assert s.image_id == "im0004"
    hidden = {lsp14.keypoints[i] for i in np.flatnonzero(s.meta["occluded"])}
    assert hidden == {"left_hip", "left_knee", "left_shoulder", "left_elbow", "left_wrist"}
    assert s.visible[lsp14.index("right_wrist")] == 1 and s.visible[lsp14.index("left_wrist")] == 0
    np.testing.assert_allclose(s.box, box_from_keypoints(s.keypoints, padding=1.2), rtol=1e-5)
    assert np.all(s.box[:2] <= np.nanmin(s.keypoints, 0)) and np.all(s.box[2:] >= np.nanmax(s.keypoints, 0))


def test_lspet_visibility_flags_and_partial_images():
    root = shared_path("data", "lspet")
    raw = scipy.io.loadmat(str(root / "joints.mat"))["joints"]  # (14, 3, 10000): x, y, visible
    samples, report = load_lsp(root, extended=True)
    assert report.num_records == 10000 and len(samples) == 2000  # only im00001-im02000 are in the shared copy
    assert report.counts() == {"missing_image": 8000}
    assert samples[0].image_id == "im00001" and samples[-1].image_id == "im02000"
    kpts = np.stack([s.keypoints for s in samples])
    labelled = np.isfinite(kpts[..., 0])
    flags = raw[:, 2, :2000].T
    np.testing.assert_array_equal(labelled, flags == 1)
    np.testing.assert_array_equal(np.stack([s.visible for s in samples]), flags)
    np.testing.assert_array_equal(kpts[labelled], raw[:, :2, :2000].transpose(2, 0, 1)[labelled].astype(np.float32))
    # im00001's right ankle: flag 0 at (0, -26.1), above the image -> unlabelled
    assert raw[0, :, 0].tolist()[2] == 0 and raw[0, 1, 0] < 0 and np.isnan(samples[0].keypoints[0]).all()
    assert (~labelled).sum() == 3361


def test_lsp_errors_and_reports(tmp_path):
    root = shared_path("data", "lsp")
    with pytest.raises(ValueError, match=r"\(14, 3, N\).*pass extended=False"):
        load_lsp(root, extended=True)
    with pytest.raises(ValueError, match=r"\(3, 14, N\).*pass extended=True"):
        load_lsp(shared_path("data", "lspet"))
    with pytest.raises(FileNotFoundError, match="joints.mat"):
        load_lsp(tmp_path)
    samples, report = load_lsp(root, indices=[0, 2000, -1])
    assert len(samples) == 1 and report.counts() == {"bad_value": 2}
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"other": np.zeros(3)})
    with pytest.raises(ValueError, match="no 'joints' array"):
        load_lsp(tmp_path)
