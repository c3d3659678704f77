"""Acclaim ASF (skeleton) and AMC (motion) readers with forward kinematics, as used by the CMU mocap database.

Units. The ASF ``:units`` section gives ``length L`` and ``angle deg|rad``. In the CMU files ``length 0.45``
means every length (bone lengths and the AMC root translation) is in inches multiplied by 0.45 ("the skeleton
was scaled by 0.45"; CMU's FAQ converts to metres with ``(1 / 0.45) * 2.54 / 100``). So one file unit is
``25.4 / L`` millimetres (56.44 mm for ``L = 0.45``). Angles are in degrees unless ``:units angle rad`` /
``:RADIANS`` say otherwise. :func:`forward_kinematics` returns millimetres.

Frames. World coordinates are those of the capture volume: Y up, right-handed (CMU). ASF bone ``direction``
vectors are given in world axes at the rest pose; ``axis ax ay az XYZ`` is the orientation of the bone's local
frame relative to the world at rest (``C = Rz(az) Ry(ay) Rx(ax)`` for order ``XYZ``, column vectors). An AMC
frame gives the ``dof`` rotations in the listed order, ``M = R_last ... R_first`` (``rx ry rz`` ->
``Rz Ry Rx``). The bone's rotation relative to its parent, expressed in world-at-rest axes, is
``L = C M C^-1``; the accumulated rotation is ``G = G_parent L`` and the bone's end is
``end = start + G (direction * length)`` (Acclaim spec / CMU ``amc_parser``). The root's AMC channels follow
``:root order`` (``TX TY TZ RX RY RZ``): translation in file units, rotations composed in the listed order
like a bone's dof, with the root ``orientation``/``axis`` in the role of ``C`` (zero in the CMU files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AsfBone", "AsfSkeleton", "AmcMotion", "read_asf", "read_amc", "forward_kinematics", "axis_rotation"]


def axis_rotation(axis: str, angles_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices about a world axis ``'x' | 'y' | 'z'``: ``(...,)`` radians -> ``(..., 3, 3)`` float64."""
    a = np.asarray(angles_rad, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    axis = axis.lower()
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    elif axis == "z":
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    else:
        raise ValueError(f"axis must be 'x', 'y' or 'z', got {axis!r}")
    return np.moveaxis(np.array(m, dtype=np.float64), (0, 1), (-2, -1))


def _euler(order: str, angles_rad: np.ndarray) -> np.ndarray:
    """``order`` like ``"XYZ"``: rotate about X first (fixed axes) -> ``R_Z R_Y R_X``; angles ``(..., len(order))``."""
    angles_rad = np.asarray(angles_rad, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles_rad.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(order):
        out = axis_rotation(ax, angles_rad[..., i]) @ out
    return out


@dataclass(frozen=True)
class AsfBone:
    """One ASF bone. ``direction`` (3,) unit vector in world axes at rest; ``length`` in file units;
    ``axis`` (3,) angles in radians with ``axis_order`` (e.g. ``"XYZ"``); ``dof`` e.g. ``("rx", "rz")``."""

    name: str
    parent: str
    direction: tuple[float, float, float]
    length: float
    axis: tuple[float, float, float]
    axis_order: str
    dof: tuple[str, ...]


@dataclass(frozen=True)
class AsfSkeleton:
    """An ASF skeleton. ``bones`` in an order where parents come first; ``root_order`` like
    ``("tx", "ty", "tz", "rx", "ry", "rz")``; ``root_axis_order`` e.g. ``"XYZ"``; ``root_position`` (3,) file
    units, ``root_orientation`` (3,) radians; ``length_unit_mm``: millimetres per file length unit;
    ``angle_unit``: ``"deg"`` or ``"rad"`` (of the AMC values unless the AMC says otherwise)."""

    name: str
    bones: tuple[AsfBone, ...]
    root_order: tuple[str, ...]
    root_axis_order: str
    root_position: tuple[float, float, float]
    root_orientation: tuple[float, float, float]
    length_unit_mm: float
    angle_unit: str

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Names of the FK output points: ``"root"`` then each bone's *end* point, in :attr:`bones` order."""
        return ("root",) + tuple(b.name for b in self.bones)

    @property
    def parents(self) -> tuple[int, ...]:
        """Index of each output point's parent point (-1 for the root)."""
        index = {n: i for i, n in enumerate(self.joint_names)}
        return (-1,) + tuple(index[b.parent] for b in self.bones)


@dataclass(frozen=True)
class AmcMotion:
    """AMC frames: ``values[bone]`` is ``(T, len(dof))`` float64 in file units (angles in ``angle_unit``)."""

    values: dict[str, np.ndarray]
    frame_numbers: np.ndarray
    angle_unit: str

    @property
    def num_frames(self) -> int:
        return int(len(self.frame_numbers))


def _sections(text: str, path: Path) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            head, *rest = line.split()
            current = head[1:].lower()
            out.setdefault(current, [])
            if rest:
                out[current].append(rest)
            continue
        if current is None:
            raise ValueError(f"{path}: content before the first ':section' keyword: {line!r}")
        out[current].append(line.split())
    return out


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Read an ASF skeleton file (Acclaim 1.10, as written by VICON for the CMU database)."""
    path = Path(path)
    sec = _sections(path.read_text(errors="replace"), path)
    for key in ("root", "bonedata", "hierarchy"):
        if key not in sec:
            raise ValueError(f"{path}: missing ':{key}' section")
    units = {r[0].lower(): r[1] for r in sec.get("units", []) if len(r) >= 2}
    length_scale = float(units.get("length", 1.0))
    if length_scale <= 0:
        raise ValueError(f"{path}: ':units length' must be positive, got {length_scale}")
    angle_unit = units.get("angle", "deg").lower()[:3]
    if angle_unit not in ("deg", "rad"):
        raise ValueError(f"{path}: ':units angle' must be deg or rad, got {units.get('angle')!r}")
    to_rad = np.pi / 180.0 if angle_unit == "deg" else 1.0
    root = {r[0].lower(): r[1:] for r in sec["root"]}
    root_order = tuple(v.lower() for v in root.get("order", ["tx", "ty", "tz", "rx", "ry", "rz"]))
    root_axis = root.get("axis", ["XYZ"])[0].upper()
    root_position = tuple(float(v) for v in root.get("position", [0, 0, 0]))
    root_orientation = tuple(float(v) * to_rad for v in root.get("orientation", [0, 0, 0]))

    raw: dict[str, dict] = {}
    cur: dict | None = None
    for r in sec["bonedata"]:
        key = r[0].lower()
        if key == "begin":
            cur = {}
        elif key == "end":
            if cur is None or "name" not in cur:
                raise ValueError(f"{path}: bone block without a name")
            raw[cur["name"]] = cur
            cur = None
        elif cur is not None:
            if key == "name":
                cur["name"] = r[1]
            elif key == "direction":
                cur["direction"] = tuple(float(v) for v in r[1:4])
            elif key == "length":
                cur["length"] = float(r[1])
            elif key == "axis":
                cur["axis"] = tuple(float(v) * to_rad for v in r[1:4])
                cur["axis_order"] = r[4].upper() if len(r) > 4 else "XYZ"
            elif key == "dof":
                cur["dof"] = tuple(v.lower() for v in r[1:])
    parent_of: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    for r in sec["hierarchy"]:
        if r[0].lower() in ("begin", "end"):
            continue
        for child in r[1:]:
            parent_of[child] = r[0]
            children.setdefault(r[0], []).append(child)
    bones: list[AsfBone] = []
    stack = list(reversed(children.get("root", [])))
    while stack:  # depth-first from the root: parents before children
        name = stack.pop()
        if name not in raw:
            raise ValueError(f"{path}: hierarchy names bone {name!r} that has no ':bonedata' block")
        b = raw[name]
        for k in ("direction", "length"):
            if k not in b:
                raise ValueError(f"{path}: bone {name!r} has no {k}")
        dof = b.get("dof", ())
        bad = [d for d in dof if d not in ("rx", "ry", "rz")]
        if bad:
            raise ValueError(f"{path}: bone {name!r} has unsupported dof {bad} (only rx, ry, rz)")
        d = np.asarray(b["direction"], dtype=np.float64)
        n = np.linalg.norm(d)
        if n == 0:
            raise ValueError(f"{path}: bone {name!r} has a zero direction")
        bones.append(AsfBone(name, parent_of[name], tuple(d / n), b["length"], b.get("axis", (0.0, 0.0, 0.0)),
                             b.get("axis_order", "XYZ"), dof))
        stack.extend(reversed(children.get(name, [])))
    unreached = set(raw) - {b.name for b in bones}
    if unreached:
        raise ValueError(f"{path}: bones {sorted(unreached)} are not connected to the root in ':hierarchy'")
    name = " ".join(sec.get("name", [["unnamed"]])[0])
    return AsfSkeleton(name, tuple(bones), root_order, root_axis, root_position, root_orientation,
                       25.4 / length_scale, angle_unit)


def read_amc(path: str | os.PathLike, *, angle_unit: str | None = None) -> AmcMotion:
    """Read an AMC motion file. Frames start at a line holding only the frame number; each following line is
    ``bone v1 v2 ...``. The angle unit comes from ``:DEGREES`` / ``:RADIANS`` in the file, else ``angle_unit``
    (default ``"deg"``)."""
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    unit = angle_unit or "deg"
    rows: dict[str, list[list[float]]] = {}
    frames: list[int] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            if line.upper().startswith(":DEG"):
                unit = "deg"
            elif line.upper().startswith(":RAD"):
                unit = "rad"
            continue
        parts = line.split()
        if len(parts) == 1 and parts[0].isdigit():
            frames.append(int(parts[0]))
            continue
        if not frames:
            raise ValueError(f"{path}:{lineno}: bone values before the first frame number: {line!r}")
        try:
            values = list(map(float, parts[1:]))
        except ValueError as err:
            raise ValueError(f"{path}:{lineno}: non-numeric value in {line!r}") from err
        seq = rows.setdefault(parts[0], [])
        if len(seq) != len(frames) - 1:
            raise ValueError(f"{path}:{lineno}: bone {parts[0]!r} missing or repeated before frame {frames[-1]}")
        seq.append(values)
    if not frames:
        raise ValueError(f"{path}: no frames")
    values_out = {}
    for bone, seq in rows.items():
        if len(seq) != len(frames):
            raise ValueError(f"{path}: bone {bone!r} has {len(seq)} frames, expected {len(frames)}")
        try:
            values_out[bone] = np.asarray(seq, dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"{path}: bone {bone!r} has a varying number of values per frame") from err
    return AmcMotion(values_out, np.asarray(frames, dtype=np.int64), unit)


def forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion | None = None) -> np.ndarray:
    """World positions of the root and of every bone's end point.

    Args:
        skeleton: from :func:`read_asf`.
        motion: from :func:`read_amc`; ``None`` gives the rest pose (all angles zero, root at its ASF
            ``position``): every bone end is then the sum of ``direction * length`` along its chain.

    Returns:
        ``(T, 1 + num_bones, 3)`` float64 millimetres, world frame (Y up), points in
        :attr:`AsfSkeleton.joint_names` order (``T = 1`` for the rest pose). Bones the AMC omits keep zero angles.
    """
    mm = skeleton.length_unit_mm
    if motion is None:
        T = 1
        root_t = np.asarray(skeleton.root_position, dtype=np.float64)[None]
        root_r = np.eye(3)[None]
        values: dict[str, np.ndarray] = {}
        to_rad = 1.0
    else:
        T = motion.num_frames
        to_rad = np.pi / 180.0 if motion.angle_unit == "deg" else 1.0
        values = motion.values
        if "root" not in values:
            raise ValueError("motion has no 'root' channels")
        rv = values["root"]
        if rv.shape[1] != len(skeleton.root_order):
            raise ValueError(f"motion root has {rv.shape[1]} values per frame, the ASF root order "
                             f"{skeleton.root_order} needs {len(skeleton.root_order)}")
        col = {c: i for i, c in enumerate(skeleton.root_order)}
        root_t = np.stack([rv[:, col[c]] if c in col else np.zeros(T) for c in ("tx", "ty", "tz")], axis=-1)
        order = "".join(c[1] for c in skeleton.root_order if c.startswith("r")).upper()
        angles = np.stack([rv[:, col[c]] for c in skeleton.root_order if c.startswith("r")], axis=-1) * to_rad
        c0 = _euler(skeleton.root_axis_order, np.asarray(skeleton.root_orientation))
        root_r = c0 @ _euler(order, angles) @ c0.T
    pos = np.zeros((T, 1 + len(skeleton.bones), 3), dtype=np.float64)
    pos[:, 0] = root_t * mm
    index = {"root": 0}
    rot = {"root": root_r}
    for i, bone in enumerate(skeleton.bones, start=1):
        c = _euler(bone.axis_order, np.asarray(bone.axis))
        g = rot[bone.parent]
        if bone.dof and bone.name in values:
            v = values[bone.name]
            if v.shape[1] != len(bone.dof):
                raise ValueError(f"motion bone {bone.name!r} has {v.shape[1]} values per frame, its dof "
                                 f"{bone.dof} needs {len(bone.dof)}")
            m = _euler("".join(d[1] for d in bone.dof).upper(), v * to_rad)
            g = g @ (c @ m @ c.T)
        # (a bone without motion values has L = C I C^-1 = I: it inherits the parent's rotation)
        offset = np.asarray(bone.direction) * bone.length * mm
        pos[:, i] = pos[:, index[bone.parent]] + np.einsum("...ij,j->...i", g, offset)
        rot[bone.name] = g
        index[bone.name] = i
    return pos
