from __future__ import annotations

import numpy as np
import pytest

from posekit.threed import bvh


def test_parse_walk_cycle(cmu_bvh_dir):
    m = bvh.read_bvh(cmu_bvh_dir / "02_01.bvh")
    assert m.num_frames == 343 and m.channels.shape == (343, m.channels.shape[1])
    assert m.fps == pytest.approx(120.0, rel=1e-4)
    assert m.joint_names[0] == "Hips" and "LeftAnkle" in m.joint_names and "Head_end" in m.joint_names
    hips = m.joints[0]
    assert hips.channels == ("xposition", "yposition", "zposition", "zrotation", "yrotation", "xrotation")
    shoulder = m.joints[m.joint_names.index("LeftShoulder")]
    assert shoulder.channels == ("zrotation", "xrotation", "yrotation")
    assert shoulder.offset == (3.54205, 0.90436, -0.17364)
    assert all(p < i for i, p in enumerate(m.parents))


def test_zero_channels_give_summed_offsets(cmu_bvh_dir):
    """A frame with all channels zero: every point is the sum of the OFFSETs of its chain (values from the file)."""
    m = bvh.read_bvh(cmu_bvh_dir / "02_01.bvh")
    rest = bvh.forward_kinematics(m, channels=np.zeros((1, m.channels.shape[1])))
    ankle = np.array([1.65674 + 2.59720 + 2.49236, -1.80282 - 7.13576 - 6.84770, 0.62477])
    assert np.allclose(rest[0, m.joint_names.index("LeftAnkle")], ankle, atol=1e-12)
    wrist = np.array([0.01961 + 0.01021 - 3.49802, 2.05450 + 2.06436 + 0.75994 - 5.026490 - 3.364310,
                      -0.14112 - 0.05921 - 0.32616])
    assert np.allclose(rest[0, m.joint_names.index("RightWrist")], wrist, atol=1e-12)
    scaled = bvh.forward_kinematics(m, channels=np.zeros((1, m.channels.shape[1])), scale=10.0)
    assert np.allclose(scaled, rest * 10.0)


@pytest.mark.parametrize("clip", ["02_01", "39_07"])
def test_bone_lengths_constant(cmu_bvh_dir, clip):
    m = bvh.read_bvh(cmu_bvh_dir / f"{clip}.bvh")
    pos = bvh.forward_kinematics(m)
    assert np.allclose(pos[:, 0], m.channels[:, :3])  # root = its position channels (zero OFFSET)
    for i, j in enumerate(m.joints):
        if j.parent < 0:
            continue
        length = np.linalg.norm(pos[:, i] - pos[:, j.parent], axis=-1)
        expected = np.linalg.norm(j.offset)
        assert length.std() <= 1e-6 * max(expected, 1e-9)
        assert np.allclose(length, expected, rtol=1e-9, atol=1e-12)


SMALL = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 5 Xposition Yposition Zposition Zrotation Xrotation
  JOINT B
  {
    OFFSET 0 0 1
    CHANNELS 1 Yrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 90 90 0
10 20 30 0 0 90
"""


def test_channel_order_and_translation(tmp_path):
    """'Zrotation Xrotation' means R = Rz Rx (intrinsic, listed order)."""
    (tmp_path / "s.bvh").write_text(SMALL)
    m = bvh.read_bvh(tmp_path / "s.bvh")
    assert m.joint_names == ("A", "B", "B_end") and m.fps == 2.0
    pos = bvh.forward_kinematics(m)
    # frame 0: Rx(90) (0,0,1) = (0,-1,0); Rz(90) (0,-1,0) = (1,0,0). (Rx Rz would give (0,-1,0).)
    assert np.allclose(pos[0, 1], [1.0, 0.0, 0.0])
    # B's end: offset (2,0,0) through Rz Rx -> Rx(90)(2,0,0) = (2,0,0); Rz(90)(2,0,0) = (0,2,0)
    assert np.allclose(pos[0, 2], [1.0, 2.0, 0.0])
    # frame 1: root translated; B rotated by Ry(90): (2,0,0) -> (0,0,-2)
    assert np.allclose(pos[1], [[10, 20, 30], [10, 20, 31], [10, 20, 29]])


def test_malformed(tmp_path):
    (tmp_path / "a.bvh").write_text(SMALL.replace("10 20 30 0 0 90", "10 20 30 0 0"))
    with pytest.raises(ValueError, match="motion values"):
        bvh.read_bvh(tmp_path / "a.bvh")
    (tmp_path / "b.bvh").write_text(SMALL.replace("Yrotation", "Wrotation"))
    with pytest.raises(ValueError, match="unknown channels"):
        bvh.read_bvh(tmp_path / "b.bvh")
    (tmp_path / "c.bvh").write_text(SMALL)
    with pytest.raises(ValueError, match="channels must have shape"):
        bvh.forward_kinematics(bvh.read_bvh(tmp_path / "c.bvh"), channels=np.zeros((2, 5)))
