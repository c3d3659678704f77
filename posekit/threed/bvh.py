"""BVH (Biovision Hierarchy) reader and forward kinematics.

Conventions (the de-facto BVH standard): each joint's ``OFFSET`` is its rest position relative to its parent,
in the parent's frame and in the *file's* length unit (BVH declares no unit). ``CHANNELS`` are applied in the
listed order as intrinsic rotations: ``Zrotation Yrotation Xrotation`` gives ``R = Rz Ry Rx`` (column vectors),
angles in degrees. A joint's world rotation is ``G = G_parent R`` and its world position is
``p = p_parent + G_parent (OFFSET + translation channels)``; position channels (usually only on the root) are
added to the offset. ``End Site`` blocks become extra points named ``<parent>_end``.

Units of the data here: the CMU walk-cycle BVH files in ``../shared/data/mocap/cmu/`` use the CMU ASF length
unit (inches * 0.45, i.e. ``25.4 / 0.45`` = 56.44 mm per unit; their offsets equal the ASF bone lengths of the
same subject), with Y up. :data:`posekit.threed.cmu_h36m.CMU_LENGTH_UNIT_MM` holds that factor; pass it as
``scale=`` to get millimetres.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.threed.asf_amc import axis_rotation

__all__ = ["BvhJoint", "BvhMotion", "read_bvh", "forward_kinematics"]

_ROT = {"xrotation": "x", "yrotation": "y", "zrotation": "z"}
_POS = {"xposition": 0, "yposition": 1, "zposition": 2}


@dataclass(frozen=True)
class BvhJoint:
    """One BVH joint or end site. ``parent`` is an index into :attr:`BvhMotion.joints` (-1 for the root),
    ``offset`` (3,) in file units, ``channels`` lower-case names (``()`` for end sites), ``channel_start`` the
    first column of this joint's channels in :attr:`BvhMotion.channels`."""

    name: str
    parent: int
    offset: tuple[float, float, float]
    channels: tuple[str, ...]
    channel_start: int


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: ``joints`` (parents before children, end sites included), ``channels`` ``(T, C)``
    float64 (file units / degrees) and ``frame_time`` in seconds."""

    joints: tuple[BvhJoint, ...]
    channels: np.ndarray
    frame_time: float

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)

    @property
    def num_frames(self) -> int:
        return int(self.channels.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def read_bvh(path: str | os.PathLike) -> BvhMotion:
    """Parse a BVH file (HIERARCHY + MOTION)."""
    path = Path(path)
    tokens = path.read_text(errors="replace").split()
    pos = 0

    def take(what: str) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"{path}: unexpected end of file while reading {what}")
        pos += 1
        return tokens[pos - 1]

    def number(what: str) -> float:
        tok = take(what)
        try:
            return float(tok)
        except ValueError as err:
            raise ValueError(f"{path}: expected a number for {what}, got {tok!r}") from err

    if take("HIERARCHY").upper() != "HIERARCHY":
        raise ValueError(f"{path}: does not start with HIERARCHY")
    joints: list[BvhJoint] = []
    n_channels = 0
    stack: list[int] = []  # open blocks: joint index, or -2 for an End Site
    expect_block = take("ROOT")
    if expect_block.upper() != "ROOT":
        raise ValueError(f"{path}: expected ROOT after HIERARCHY, got {expect_block!r}")
    pending: tuple[str, bool] | None = (take("root name"), False)
    while True:
        tok = take("hierarchy")
        up = tok.upper()
        if up == "{":
            if pending is None:
                raise ValueError(f"{path}: '{{' without a joint name")
            name, is_end = pending
            parent = next((i for i in reversed(stack) if i >= 0), -1)
            if is_end:
                name = f"{joints[parent].name}_end"
            joints.append(BvhJoint(name, parent, (0.0, 0.0, 0.0), (), n_channels))
            stack.append(len(joints) - 1)
            pending = None
        elif up == "}":
            if not stack:
                raise ValueError(f"{path}: unbalanced '}}'")
            stack.pop()
            if not stack:
                break
        elif up == "OFFSET":
            j = joints[stack[-1]]
            off = tuple(number(f"OFFSET of {j.name}") for _ in range(3))
            joints[stack[-1]] = BvhJoint(j.name, j.parent, off, j.channels, j.channel_start)
        elif up == "CHANNELS":
            j = joints[stack[-1]]
            count = int(number(f"CHANNELS count of {j.name}"))
            chans = tuple(take(f"CHANNELS of {j.name}").lower() for _ in range(count))
            bad = [c for c in chans if c not in _ROT and c not in _POS]
            if bad:
                raise ValueError(f"{path}: joint {j.name!r} has unknown channels {bad}")
            joints[stack[-1]] = BvhJoint(j.name, j.parent, j.offset, chans, n_channels)
            n_channels += count
        elif up == "JOINT":
            pending = (take("joint name"), False)
        elif up == "END":
            take("End Site")
            pending = ("", True)
        else:
            raise ValueError(f"{path}: unexpected token {tok!r} in HIERARCHY")
    if take("MOTION").upper() != "MOTION":
        raise ValueError(f"{path}: expected MOTION after the hierarchy")
    if take("Frames:").lower() != "frames:":
        raise ValueError(f"{path}: expected 'Frames:'")
    n_frames = int(number("Frames"))
    if (take("Frame").lower(), take("Time:").lower()) != ("frame", "time:"):
        raise ValueError(f"{path}: expected 'Frame Time:'")
    frame_time = number("Frame Time")
    if frame_time <= 0:
        raise ValueError(f"{path}: Frame Time must be positive, got {frame_time}")
    rest = tokens[pos:]
    if len(rest) != n_frames * n_channels:
        raise ValueError(f"{path}: {len(rest)} motion values, expected Frames ({n_frames}) x channels "
                         f"({n_channels}) = {n_frames * n_channels}")
    try:
        data = np.asarray(rest, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError as err:
        raise ValueError(f"{path}: non-numeric motion values") from err
    return BvhMotion(tuple(joints), data, frame_time)


def forward_kinematics(motion: BvhMotion, *, scale: float = 1.0, channels: np.ndarray | None = None) -> np.ndarray:
    """World positions of every joint and end site.

    Args:
        motion: from :func:`read_bvh`.
        scale: multiplies lengths (offsets and position channels), e.g. the file unit in millimetres.
        channels: optional ``(T, C)`` channel values to use instead of ``motion.channels`` (e.g. zeros for the
            rest pose, where every point is the sum of the OFFSETs along its chain).

    Returns:
        ``(T, J, 3)`` float64 in the file's length unit times ``scale``, world frame of the file, joints in
        :attr:`BvhMotion.joint_names` order.
    """
    data = motion.channels if channels is None else np.asarray(channels, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != motion.channels.shape[1]:
        raise ValueError(f"channels must have shape (T, {motion.channels.shape[1]}), got {data.shape}")
    T = data.shape[0]
    pos = np.zeros((T, len(motion.joints), 3), dtype=np.float64)
    rot = np.zeros((T, len(motion.joints), 3, 3), dtype=np.float64)
    for i, j in enumerate(motion.joints):
        local_t = np.broadcast_to(np.asarray(j.offset, dtype=np.float64), (T, 3)).copy()
        local_r = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
        for k, ch in enumerate(j.channels):
            v = data[:, j.channel_start + k]
            if ch in _POS:
                local_t[:, _POS[ch]] += v
            else:
                local_r = local_r @ axis_rotation(_ROT[ch], np.deg2rad(v))
        local_t *= scale
        if j.parent < 0:
            pos[:, i] = local_t
            rot[:, i] = local_r
        else:
            g = rot[:, j.parent]
            pos[:, i] = pos[:, j.parent] + np.einsum("tij,tj->ti", g, local_t)
            rot[:, i] = g @ local_r
    return pos
