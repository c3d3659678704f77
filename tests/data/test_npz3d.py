"""VideoPose3D-layout .npz loader on synthetic files with the real structure (Human3.6M cannot be shipped)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from posekit.data.npz3d import H36M32_TO_17, load_npz3d
from posekit.skeletons import coco17, h36m17
from tests.conftest import shared_path

# VideoPose3D's Human36mDataset drops these 15 static joints of the 32
VIDEOPOSE3D_REMOVED = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)


def _obj(value):
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr


def test_positions_3d_cut_to_17_joints(tmp_path):
    rng = np.random.default_rng(0)
    walk, eat = rng.normal(size=(10, 32, 3)).astype(np.float32), rng.normal(size=(7, 32, 3)).astype(np.float32)
    data = {"S1": {"Walking 1": walk, "Broken": np.zeros((5, 32))}, "S5": {"Eating": eat}, "S9": "oops"}
    np.savez_compressed(tmp_path / "data_3d_h36m.npz", positions_3d=_obj(data))
    seqs, report = load_npz3d(tmp_path / "data_3d_h36m.npz")
    assert H36M32_TO_17 == tuple(sorted(set(range(32)) - set(VIDEOPOSE3D_REMOVED)))
    assert [(s.subject, s.action, s.camera) for s in seqs] == [("S1", "Walking 1", None), ("S5", "Eating", None)]
    np.testing.assert_array_equal(seqs[0].keypoints, walk[:, list(H36M32_TO_17)])
    np.testing.assert_array_equal(seqs[1].keypoints, eat[:, list(H36M32_TO_17)])
    assert seqs[0].skeleton is h36m17 and len(seqs[0]) == 10 and seqs[0].meta["source_joints"] == 32
    assert report.num_records == 4 and {s.index: s.reason for s in report.skipped} == {
        "S1/Broken": "bad_shape", "S9": "bad_value"}
    full, _ = load_npz3d(tmp_path / "data_3d_h36m.npz", joints17=False)
    assert full[0].skeleton.num_keypoints == 32 and full[0].skeleton.name == "joints32"
    np.testing.assert_array_equal(full[0].keypoints, walk)


def test_positions_2d_per_camera_with_metadata(tmp_path):
    cams = [np.full((6, 17, 2), c, np.float32) for c in range(4)]
    meta = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3, 5], [2, 4, 6]]}
    np.savez_compressed(tmp_path / "data_2d_h36m_det.npz", positions_2d=_obj({"S1": {"Walking": cams}}),
                        metadata=_obj(meta))
    seqs, report = load_npz3d(tmp_path / "data_2d_h36m_det.npz")
    assert [s.camera for s in seqs] == [0, 1, 2, 3] and report.skipped == ()
    assert all(s.skeleton is coco17 for s in seqs) and seqs[2].keypoints[0, 0, 0] == 2.0
    assert seqs[0].meta["keypoints_symmetry"] == ((1, 3, 5), (2, 4, 6)) and seqs[0].meta["layout_name"] == "coco"
    meta.pop("layout_name")
    np.savez(tmp_path / "gt.npz", positions_2d=_obj({"S1": {"Walking": cams}}), metadata=_obj(meta))
    assert load_npz3d(tmp_path / "gt.npz")[0][0].skeleton is h36m17


def _write_npy_member(path, name, pickled):
    """An .npz whose member holds raw pickle bytes after a 0-d object header (what numpy 1.x writes)."""
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}.npy", buf.getvalue() + pickled)


def test_numpy1_pickles_load(tmp_path):
    # numpy 1.x pickles name numpy.core.multiarray; numpy 2 renamed it numpy._core
    arr = np.arange(17 * 3 * 2, dtype=np.float32).reshape(2, 17, 3)
    pickled = pickle.dumps(_obj({"S1": {"Sit": arr}}), protocol=2)
    assert b"numpy._core.multiarray" in pickled
    old = pickled.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    _write_npy_member(tmp_path / "old.npz", "positions_3d", old)
    seqs, _ = load_npz3d(tmp_path / "old.npz")
    np.testing.assert_array_equal(seqs[0].keypoints, arr)


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_foreign_objects_are_refused(tmp_path):
    target = tmp_path / "pwned"
    _write_npy_member(tmp_path / "evil.npz", "positions_3d", pickle.dumps(_obj({"S1": _Payload(str(target))})))
    with pytest.raises(ValueError, match=r"refusing to load (io|builtins)\.open"):
        load_npz3d(tmp_path / "evil.npz")
    assert not target.exists()


def test_npz_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="none.npz"):
        load_npz3d(tmp_path / "none.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not an .npz"):
        load_npz3d(tmp_path / "text.npz")
    # the only 3D .npz in MMPose's test data is its per-image layout (MPI-INF-3DHP), not VideoPose3D's
    real = shared_path("data", "mmpose_testdata", "tests", "data", "mpi_inf_3dhp", "test_3dhp_test.npz")
    with pytest.raises(ValueError, match=r"MMPose's per-image layout \(imgname, part, S\)"):
        load_npz3d(real)
