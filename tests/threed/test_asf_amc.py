from __future__ import annotations

import re

import numpy as np
import pytest

from posekit.threed import asf_amc, bvh

MM = 25.4 / 0.45  # CMU ':units length 0.45': lengths are inches * 0.45


def _raw_bones(text: str) -> dict[str, tuple[np.ndarray, float]]:
    """Independent minimal parse: bone name -> (direction, length) straight from the ASF text."""
    out = {}
    for block in re.findall(r"begin(.*?)end", text.split(":bonedata", 1)[1].split(":hierarchy")[0], re.S):
        name = re.search(r"name\s+(\S+)", block).group(1)
        direction = np.array(re.search(r"direction\s+(\S+)\s+(\S+)\s+(\S+)", block).groups(), dtype=float)
        length = float(re.search(r"length\s+(\S+)", block).group(1))
        out[name] = (direction, length)
    return out


def test_units_and_structure(cmu_amc_dir):
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    assert sk.length_unit_mm == pytest.approx(MM)
    assert sk.angle_unit == "deg"
    assert len(sk.bones) == 30 and sk.joint_names[0] == "root"
    femur = next(b for b in sk.bones if b.name == "lfemur")
    assert femur.length * sk.length_unit_mm == pytest.approx(7.59371 * MM)  # 428.6 mm
    assert femur.dof == ("rx", "ry", "rz") and femur.parent == "lhipjoint"
    assert np.allclose(femur.axis, np.deg2rad([0, 0, 20]))
    names = sk.joint_names
    assert all(names.index(names[p]) < i for i, p in enumerate(sk.parents) if p >= 0)


@pytest.mark.parametrize("chain", [
    ("lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes"),
    ("rhipjoint", "rfemur", "rtibia", "rfoot", "rtoes"),
    ("lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head"),
    ("lowerback", "upperback", "thorax", "rclavicle", "rhumerus", "rradius", "rwrist", "rhand", "rfingers"),
])
def test_rest_pose_is_directions_times_lengths(cmu_amc_dir, chain):
    path = cmu_amc_dir / "02.asf"
    raw = _raw_bones(path.read_text())
    sk = asf_amc.read_asf(path)
    rest = asf_amc.forward_kinematics(sk)
    assert rest.shape == (1, 31, 3)
    expected = np.zeros(3)  # ':root position 0 0 0'
    for bone in chain:
        d, length = raw[bone]
        expected = expected + d / np.linalg.norm(d) * length * MM
        assert np.allclose(rest[0, sk.joint_names.index(bone)], expected, atol=1e-9), bone


def _write_zero_amc(path, sk, frames=3, root=(1.0, 2.0, 3.0)):
    lines = [":FULLY-SPECIFIED", ":DEGREES"]
    for f in range(1, frames + 1):
        lines.append(str(f))
        lines.append("root " + " ".join(map(str, root)) + " 0 0 0")
        lines += [f"{b.name} " + " ".join("0" for _ in b.dof) for b in sk.bones if b.dof]
    path.write_text("\n".join(lines) + "\n")


def test_zero_angle_motion_is_rest_pose_translated(cmu_amc_dir, tmp_path):
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    _write_zero_amc(tmp_path / "zero.amc", sk)
    pos = asf_amc.forward_kinematics(sk, asf_amc.read_amc(tmp_path / "zero.amc"))
    rest = asf_amc.forward_kinematics(sk)
    assert pos.shape == (3, 31, 3)
    assert np.allclose(pos, rest + np.array([1.0, 2.0, 3.0]) * MM, atol=1e-9)


def test_root_rotation_convention(cmu_amc_dir, tmp_path):
    """Root 'RX RY RZ' = 0 0 90 (degrees) turns the skeleton by +90 deg about world Z."""
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    _write_zero_amc(tmp_path / "z.amc", sk, frames=1, root=(0, 0, 0))
    text = (tmp_path / "z.amc").read_text().replace("root 0 0 0 0 0 0", "root 0 0 0 0 0 90")
    (tmp_path / "z90.amc").write_text(text)
    pos = asf_amc.forward_kinematics(sk, asf_amc.read_amc(tmp_path / "z90.amc"))[0]
    rest = asf_amc.forward_kinematics(sk)[0]
    rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(pos, rest @ rz.T, atol=1e-9)


@pytest.mark.parametrize("clip", ["02_01", "02_03"])
def test_bone_lengths_constant_over_clip(cmu_amc_dir, clip):
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    motion = asf_amc.read_amc(cmu_amc_dir / f"{clip}.amc")
    pos = asf_amc.forward_kinematics(sk, motion)
    assert pos.shape == (motion.num_frames, 31, 3) and motion.num_frames > 100
    assert np.ptp(pos[:, 0], axis=0).max() > 500  # the root really moves (walk / jog)
    for i, p in enumerate(sk.parents):
        if p < 0:
            continue
        length = np.linalg.norm(pos[:, i] - pos[:, p], axis=-1)
        expected = sk.bones[i - 1].length * MM
        assert length.std() < 1e-6 * expected
        assert np.allclose(length, expected, rtol=1e-9)


def test_amc_matches_bvh_conversion_of_the_same_trial(cmu_amc_dir, cmu_bvh_dir):
    """02_01 exists as AMC and as walk-cycle BVH (an independent conversion with its own channel orders):
    legs and spine agree to the BVH's printed precision; the BVH lacks the ASF 'thorax' segment, so the
    neck and arms are shifted by exactly that bone's length."""
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    a = asf_amc.forward_kinematics(sk, asf_amc.read_amc(cmu_amc_dir / "02_01.amc"))
    motion = bvh.read_bvh(cmu_bvh_dir / "02_01.bvh")
    b = bvh.forward_kinematics(motion, scale=MM)
    assert a.shape[0] == b.shape[0] == 343
    an, bn = sk.joint_names, motion.joint_names
    same = [("root", "Hips"), ("lhipjoint", "LeftHip"), ("lfemur", "LeftKnee"), ("ltibia", "LeftAnkle"),
            ("rhipjoint", "RightHip"), ("rfemur", "RightKnee"), ("rtibia", "RightAnkle"), ("rfoot", "RightToe"),
            ("lowerback", "Chest"), ("upperback", "Chest2")]
    for x, y in same:
        assert np.abs(a[:, an.index(x)] - b[:, bn.index(y)]).max() < 0.02, (x, y)  # mm
    thorax = next(bb for bb in sk.bones if bb.name == "thorax").length * MM
    for x, y in [("lclavicle", "LeftShoulder"), ("rradius", "RightWrist"), ("head", "Head_end")]:
        d = np.linalg.norm(a[:, an.index(x)] - b[:, bn.index(y)], axis=-1)
        assert np.allclose(d, thorax, atol=0.02), (x, y)


def test_bad_input(cmu_amc_dir, tmp_path):
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    (tmp_path / "bad.amc").write_text("1\nroot 0 0 0 0 0 0\nlfemur 1 2\n")
    with pytest.raises(ValueError, match="lfemur"):
        asf_amc.forward_kinematics(sk, asf_amc.read_amc(tmp_path / "bad.amc"))
    (tmp_path / "bad2.amc").write_text("1\nroot 0 0 0 0 0 0\n2\nroot 0 0 0\n3\n")
    with pytest.raises(ValueError, match="root"):
        asf_amc.read_amc(tmp_path / "bad2.amc")
    (tmp_path / "bad.asf").write_text(":units\n length 0.45\n:root\n order TX TY TZ RX RY RZ\n")
    with pytest.raises(ValueError, match="bonedata"):
        asf_amc.read_asf(tmp_path / "bad.asf")
