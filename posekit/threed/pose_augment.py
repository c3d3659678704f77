"""Bone-length-preserving 3D pose augmentation on the h36m17 skeleton: hip and knee flexion, hip abduction and a
forward torso lean (PoseAug-style joint-angle offsets, but plain and deterministic given a NumPy Generator).

Why: motion capture such as CMU subjects 01-03 and the walk cycles has few deep knee/hip bends, so a lifter
trained on it keeps the legs nearly straight when it sees a squat from the front (thighs foreshortened towards
the camera). Bending the mocap poses' joints before the virtual cameras project them adds such poses.

Joints: ``(T, 17, 3)`` float h36m17 positions (joint order of :data:`posekit.skeletons.h36m17`: root, right
hip/knee/foot, left hip/knee/foot, spine, thorax, neck_base, head, left shoulder/elbow/wrist, right
shoulder/elbow/wrist) in any right-handed frame and length unit (world mm, root-relative metres...); outputs
have the same frame and unit. Only rotations of whole sub-chains about a joint of the chain are applied, so
every bone length is preserved exactly (up to float rounding) and the root, hips and the pelvis' orientation stay
where they are.

Body frame, per frame, from the input pose (:func:`body_axes`): ``left`` = right hip -> left hip; ``up`` = root
-> thorax made orthogonal to ``left``; ``forward = left x up`` (the way the person faces). Angles (degrees):

- knee flexion: the shank (knee -> foot) rotates backward about the knee's hinge axis (``thigh x shank`` when the
  knee is bent by more than 10 deg, else ``left`` made orthogonal to the thigh); the total flexion (180 minus the
  hip-knee-foot angle) is capped at ``max_knee_flexion_deg``;
- hip abduction: knee and foot rotate outward (away from the other leg) about ``forward`` through the hip;
- hip flexion: knee and foot rotate forward about ``left`` through the hip; the thigh's sagittal angle from
  ``-up`` (positive forward) is capped at ``max_hip_flexion_deg``;
- torso lean: spine, thorax, neck, head and both arms rotate forward about ``left`` through the root (negative:
  backward).

- elbow flexion (per arm): the wrist rotates forward about the elbow's hinge (``upper arm x forearm`` when bent
  by more than 10 deg, else ``-left`` made orthogonal to the upper arm); total flexion capped at
  ``max_elbow_flexion_deg``;
- shoulder abduction: elbow and wrist rotate outward about ``forward`` through the shoulder;
- shoulder flexion: elbow and wrist rotate forward (and up) about ``left`` through the shoulder; the upper arm's
  sagittal angle from ``-up`` is capped at ``max_shoulder_flexion_deg``;
- torso side lean (about ``forward``, positive towards the person's left) and torso twist (about ``up``, positive
  turns the chest to the person's left), both of the upper body through the root.

They are applied in that order (legs, arms, forward lean, side lean, twist). :func:`mirror_pose` swaps left and
right (a reflection, also bone-length preserving). :func:`random_augment` draws one set of offsets per call (a training window), so
every frame gets the same perturbation (optionally scaled by a smooth per-frame envelope in [0, 1], which turns
it into a bend-and-rise motion) and the motion stays smooth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["PoseOffsets", "PoseAugment", "VARIETY", "body_axes", "knee_angles", "augment_pose", "sample_offsets",
           "random_augment", "mirror_pose"]

_ROOT, _THORAX, _R_HIP, _L_HIP = 0, 8, 1, 4
_LEGS = ((1, 2, 3), (4, 5, 6))  # (hip, knee, foot): right, left
_ARMS = ((14, 15, 16), (11, 12, 13))  # (shoulder, elbow, wrist): right, left
_UPPER = np.arange(7, 17)  # spine, thorax, neck_base, head, both arms
_FLIP = np.array([0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13])
_HINGE_MIN_SIN = np.sin(np.deg2rad(10.0))


def _pair(value, name: str) -> tuple[float, float]:
    a = np.asarray(value, dtype=np.float64)
    if a.shape not in ((), (1,), (2,)):
        raise ValueError(f"{name} must be a number or a (right, left) pair, got shape {a.shape}")
    v = tuple(float(x) for x in np.broadcast_to(a, (2,)))
    if not all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite, got {value}")
    return v  # type: ignore[return-value]


@dataclass(frozen=True)
class PoseOffsets:
    """Joint-angle offsets in degrees; per-leg values are ``(right, left)`` (a scalar sets both legs).

    ``hip_flexion_deg``, ``knee_flexion_deg`` and ``hip_abduction_deg`` must be >= 0 (flexion, outward);
    ``torso_lean_deg`` is forward when positive, backward when negative."""

    hip_flexion_deg: tuple[float, float] = (0.0, 0.0)
    knee_flexion_deg: tuple[float, float] = (0.0, 0.0)
    hip_abduction_deg: tuple[float, float] = (0.0, 0.0)
    torso_lean_deg: float = 0.0
    shoulder_flexion_deg: tuple[float, float] = (0.0, 0.0)
    shoulder_abduction_deg: tuple[float, float] = (0.0, 0.0)
    elbow_flexion_deg: tuple[float, float] = (0.0, 0.0)
    torso_side_lean_deg: float = 0.0
    torso_twist_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("hip_flexion_deg", "knee_flexion_deg", "hip_abduction_deg", "shoulder_flexion_deg",
                     "shoulder_abduction_deg", "elbow_flexion_deg"):
            v = _pair(getattr(self, name), name)
            if min(v) < 0:
                raise ValueError(f"{name} must be >= 0 (right, left), got {v}")
            object.__setattr__(self, name, v)
        for name in ("torso_lean_deg", "torso_side_lean_deg", "torso_twist_deg"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
            object.__setattr__(self, name, value)


def _range(value, name: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in value)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be a finite (low, high) range with low <= high, got {value}")
    return lo, hi


@dataclass(frozen=True)
class PoseAugment:
    """How :func:`sample_offsets` / :func:`random_augment` draw offsets (degrees; uniform in each range).

    A draw is a **squat** with probability ``squat_prob``: both legs are brought to the same total hip flexion
    (thigh forward angle) from ``squat_hip_flexion_deg`` and knee flexion = that + a shank tilt from
    ``squat_shank_tilt_deg`` (knees ahead of the feet) clipped to ``squat_knee_flexion_deg`` (totals: see
    :func:`sample_offsets`), with a lean from ``squat_torso_lean_deg`` and each hip an abduction from
    ``hip_abduction_deg``. Otherwise it is a **generic** draw: each leg its own hip flexion, knee
    flexion and abduction from ``hip_flexion_deg``, ``knee_flexion_deg``, ``hip_abduction_deg``, and a lean from
    ``torso_lean_deg``. With probability ``ramp_prob`` the offsets are scaled per frame by the envelope
    ``0.5 - 0.5 cos(2 pi t / P + phase)`` (period ``P`` in frames of the array, from ``ramp_period_frames``; random
    phase), i.e. the person bends and straightens; else they are constant over the frames.

    Pose variety (all off by default, :data:`VARIETY` turns them on): one draw ``u`` picks squat (``u <
    squat_prob``), else **sit** (next ``sit_prob``): both thighs to a total hip flexion from ``sit_hip_flexion_deg``
    (about horizontal), knee flexion = that + ``sit_shank_tilt_deg`` clipped to ``sit_knee_flexion_deg``, an upright
    torso ``sit_torso_lean_deg``; else **bend** (``bend_prob``): legs nearly straight (knee offset
    ``bend_knee_flexion_deg``, hip offset ``bend_hip_flexion_deg``), torso lean ``bend_torso_lean_deg`` forward and
    the arms hanging towards the ground (shoulder flexion = the lean + ``bend_arm_deg``); else **reach**
    (``reach_prob``): each arm a shoulder flexion ``shoulder_flexion_deg``, abduction ``shoulder_abduction_deg`` and
    elbow flexion ``elbow_flexion_deg`` (hands to the face when eating or phoning, reaching out or up), a torso
    twist ``torso_twist_deg``, side lean ``torso_side_lean_deg`` and forward lean ``torso_lean_deg``, legs as a
    generic draw; else generic. Squat and sit draws also get reach arm offsets with probability
    ``arm_prob``."""

    squat_prob: float = 0.5
    hip_flexion_deg: tuple[float, float] = (0.0, 60.0)
    knee_flexion_deg: tuple[float, float] = (0.0, 90.0)
    hip_abduction_deg: tuple[float, float] = (0.0, 15.0)
    torso_lean_deg: tuple[float, float] = (-10.0, 30.0)
    squat_hip_flexion_deg: tuple[float, float] = (60.0, 120.0)
    squat_knee_flexion_deg: tuple[float, float] = (60.0, 130.0)
    squat_shank_tilt_deg: tuple[float, float] = (0.0, 40.0)
    squat_torso_lean_deg: tuple[float, float] = (10.0, 45.0)
    max_hip_flexion_deg: float = 130.0
    max_knee_flexion_deg: float = 150.0
    ramp_prob: float = 0.5
    ramp_period_frames: tuple[float, float] = (30.0, 90.0)
    sit_prob: float = 0.0
    sit_hip_flexion_deg: tuple[float, float] = (70.0, 100.0)
    sit_knee_flexion_deg: tuple[float, float] = (60.0, 120.0)
    sit_shank_tilt_deg: tuple[float, float] = (-20.0, 20.0)
    sit_torso_lean_deg: tuple[float, float] = (-15.0, 20.0)
    bend_prob: float = 0.0
    bend_torso_lean_deg: tuple[float, float] = (40.0, 90.0)
    bend_knee_flexion_deg: tuple[float, float] = (0.0, 30.0)
    bend_hip_flexion_deg: tuple[float, float] = (0.0, 15.0)
    bend_arm_deg: tuple[float, float] = (-20.0, 40.0)
    reach_prob: float = 0.0
    arm_prob: float = 0.0
    shoulder_flexion_deg: tuple[float, float] = (0.0, 150.0)
    shoulder_abduction_deg: tuple[float, float] = (0.0, 90.0)
    elbow_flexion_deg: tuple[float, float] = (0.0, 140.0)
    torso_twist_deg: tuple[float, float] = (-35.0, 35.0)
    torso_side_lean_deg: tuple[float, float] = (-15.0, 15.0)
    max_shoulder_flexion_deg: float = 170.0
    max_elbow_flexion_deg: float = 150.0

    def __post_init__(self) -> None:
        for name in ("squat_prob", "ramp_prob", "sit_prob", "bend_prob", "reach_prob", "arm_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.squat_prob + self.sit_prob + self.bend_prob + self.reach_prob > 1.0 + 1e-9:
            raise ValueError("squat_prob + sit_prob + bend_prob + reach_prob must be <= 1, got "
                             f"{self.squat_prob + self.sit_prob + self.bend_prob + self.reach_prob}")
        for name in ("hip_flexion_deg", "knee_flexion_deg", "hip_abduction_deg", "torso_lean_deg",
                     "squat_hip_flexion_deg", "squat_knee_flexion_deg", "squat_shank_tilt_deg",
                     "squat_torso_lean_deg", "ramp_period_frames", "sit_hip_flexion_deg", "sit_knee_flexion_deg",
                     "sit_shank_tilt_deg", "sit_torso_lean_deg", "bend_torso_lean_deg", "bend_knee_flexion_deg",
                     "bend_hip_flexion_deg", "bend_arm_deg", "shoulder_flexion_deg", "shoulder_abduction_deg",
                     "elbow_flexion_deg", "torso_twist_deg", "torso_side_lean_deg"):
            object.__setattr__(self, name, _range(getattr(self, name), name))
        for name in ("hip_flexion_deg", "knee_flexion_deg", "hip_abduction_deg", "squat_hip_flexion_deg",
                     "squat_knee_flexion_deg", "sit_hip_flexion_deg", "sit_knee_flexion_deg",
                     "bend_knee_flexion_deg", "bend_hip_flexion_deg", "shoulder_flexion_deg",
                     "shoulder_abduction_deg", "elbow_flexion_deg"):
            if getattr(self, name)[0] < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not (0 < self.max_hip_flexion_deg <= 180 and 0 < self.max_knee_flexion_deg <= 180):
            raise ValueError(f"max_hip_flexion_deg and max_knee_flexion_deg must be in (0, 180], got "
                             f"{self.max_hip_flexion_deg}, {self.max_knee_flexion_deg}")
        if self.ramp_period_frames[0] <= 0:
            raise ValueError(f"ramp_period_frames must be positive, got {self.ramp_period_frames}")


def _check_joints(joints) -> np.ndarray:
    j = np.array(joints, dtype=np.float64)  # a copy: the input is never modified
    if j.ndim != 3 or j.shape[1:] != (17, 3):
        raise ValueError(f"joints must have shape (T, 17, 3) (h36m17), got {j.shape}")
    if len(j) == 0 or not np.all(np.isfinite(j)):
        raise ValueError("joints must hold at least one frame of finite values")
    return j


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(n < 1e-9 * max(float(np.abs(v).max()), 1.0)):
        raise ValueError(f"joints: {what} has zero length in some frame, the body frame is undefined")
    return v / n


def body_axes(joints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(left, up, forward)``, each ``(T, 3)`` float64 unit vectors per frame of ``(T, 17, 3)`` h36m17 joints
    (see the module docstring); a frame whose hips coincide or whose thorax lies on the hip line raises."""
    j = _check_joints(joints)
    left = _unit(j[:, _L_HIP] - j[:, _R_HIP], "the hip line (right hip -> left hip)")
    up = j[:, _THORAX] - j[:, _ROOT]
    up = _unit(up - np.sum(up * left, axis=-1, keepdims=True) * left, "root -> thorax (orthogonal to the hips)")
    return left, up, np.cross(left, up)


def knee_angles(joints) -> np.ndarray:
    """``(T, 2)`` float64 hip-knee-foot angles in degrees (right, left) of ``(T, 17, 3)`` h36m17 joints; 180 = a
    straight leg."""
    j = _check_joints(joints)
    out = np.empty((len(j), 2))
    for s, (hip, knee, foot) in enumerate(_LEGS):
        u, v = _unit(j[:, hip] - j[:, knee], "a thigh"), _unit(j[:, foot] - j[:, knee], "a shank")
        out[:, s] = np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))
    return out


def _rotate(points: np.ndarray, center: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate ``(T, n, 3)`` points about per-frame unit ``axis`` (T, 3) through ``center`` (T, 3) by ``angle``
    (T,) radians (right-hand rule; Rodrigues)."""
    p = points - center[:, None]
    a = axis[:, None]
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    p = p * c + np.cross(a, p) * s + a * np.sum(a * p, axis=-1, keepdims=True) * (1.0 - c)
    return p + center[:, None]


def _leg_angles(j: np.ndarray, left: np.ndarray, up: np.ndarray, fwd: np.ndarray, leg: tuple[int, int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(thigh forward angle from -up, knee flexion)``, each ``(T,)`` radians, of one leg."""
    hip, knee, foot = leg
    thigh = j[:, knee] - j[:, hip]
    t_hat, s_hat = _unit(thigh, "a thigh"), _unit(j[:, foot] - j[:, knee], "a shank")
    phi = np.arctan2(np.sum(thigh * fwd, axis=-1), -np.sum(thigh * up, axis=-1))
    return phi, np.arccos(np.clip(np.sum(t_hat * s_hat, axis=-1), -1.0, 1.0))


def augment_pose(joints, offsets: PoseOffsets, *, weights=None, max_hip_flexion_deg: float = 130.0,
                 max_knee_flexion_deg: float = 150.0, max_shoulder_flexion_deg: float = 170.0,
                 max_elbow_flexion_deg: float = 150.0) -> np.ndarray:
    """``joints`` bent by ``offsets`` (module docstring); returns a new ``(T, 17, 3)`` float64 array in the input's
    frame and unit, with the same bone lengths.

    ``weights``: optional ``(T,)`` per-frame factors in [0, 1] multiplying every offset (default 1). Flexion offsets
    are reduced per frame so that the total knee flexion stays <= ``max_knee_flexion_deg`` and the thigh's forward
    angle <= ``max_hip_flexion_deg`` (never below the input's own angles).
    """
    if not isinstance(offsets, PoseOffsets):
        raise TypeError(f"offsets must be a PoseOffsets, got {type(offsets).__name__}")
    j = _check_joints(joints)
    T = len(j)
    if weights is None:
        w = np.ones(T)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (T,) or not np.all((w >= 0) & (w <= 1)):
            raise ValueError(f"weights must have shape ({T},) with values in [0, 1], got shape {w.shape}")
    left, up, fwd = body_axes(j)
    out = j.copy()
    for s, (hip, knee, foot) in enumerate(_LEGS):
        _, flex0 = _leg_angles(out, left, up, fwd, (hip, knee, foot))
        t_hat = _unit(out[:, knee] - out[:, hip], "a thigh")
        hinge = np.cross(t_hat, _unit(out[:, foot] - out[:, knee], "a shank"))
        bent = (np.linalg.norm(hinge, axis=-1) > _HINGE_MIN_SIN) & (np.sum(hinge * left, axis=-1) > 0)
        side = left - np.sum(left * t_hat, axis=-1, keepdims=True) * t_hat  # left, orthogonal to the thigh
        axis = _unit(np.where(bent[:, None], hinge, side), "the knee hinge")
        knee_d = np.clip(w * np.deg2rad(offsets.knee_flexion_deg[s]), 0.0,
                         np.maximum(np.deg2rad(max_knee_flexion_deg) - flex0, 0.0))
        out[:, [foot]] = _rotate(out[:, [foot]], out[:, knee], axis, knee_d)
        outward = 1.0 if hip == _L_HIP else -1.0  # + about forward moves a leg towards +left
        abd = outward * w * np.deg2rad(offsets.hip_abduction_deg[s])
        out[:, [knee, foot]] = _rotate(out[:, [knee, foot]], out[:, hip], fwd, abd)
        phi, _ = _leg_angles(out, left, up, fwd, (hip, knee, foot))
        hip_d = np.clip(w * np.deg2rad(offsets.hip_flexion_deg[s]), 0.0,
                        np.maximum(np.deg2rad(max_hip_flexion_deg) - phi, 0.0))
        out[:, [knee, foot]] = _rotate(out[:, [knee, foot]], out[:, hip], -left, hip_d)
    for s, (shoulder, elbow, wrist) in enumerate(_ARMS):
        if not (offsets.elbow_flexion_deg[s] or offsets.shoulder_abduction_deg[s] or offsets.shoulder_flexion_deg[s]):
            continue
        upper = _unit(out[:, elbow] - out[:, shoulder], "an upper arm")
        fore = _unit(out[:, wrist] - out[:, elbow], "a forearm")
        flex0 = np.arccos(np.clip(np.sum(upper * fore, axis=-1), -1.0, 1.0))
        hinge = np.cross(upper, fore)
        bent = (np.linalg.norm(hinge, axis=-1) > _HINGE_MIN_SIN) & (np.sum(hinge * left, axis=-1) < 0)
        side = -(left - np.sum(left * upper, axis=-1, keepdims=True) * upper)
        axis = _unit(np.where(bent[:, None], hinge, side), "the elbow hinge")
        elbow_d = np.clip(w * np.deg2rad(offsets.elbow_flexion_deg[s]), 0.0,
                          np.maximum(np.deg2rad(max_elbow_flexion_deg) - flex0, 0.0))
        out[:, [wrist]] = _rotate(out[:, [wrist]], out[:, elbow], axis, elbow_d)
        outward = 1.0 if shoulder == _ARMS[1][0] else -1.0
        abd = outward * w * np.deg2rad(offsets.shoulder_abduction_deg[s])
        out[:, [elbow, wrist]] = _rotate(out[:, [elbow, wrist]], out[:, shoulder], fwd, abd)
        arm = out[:, elbow] - out[:, shoulder]
        phi = np.arctan2(np.sum(arm * fwd, axis=-1), -np.sum(arm * up, axis=-1))
        sh_d = np.clip(w * np.deg2rad(offsets.shoulder_flexion_deg[s]), 0.0,
                       np.maximum(np.deg2rad(max_shoulder_flexion_deg) - phi, 0.0))
        out[:, [elbow, wrist]] = _rotate(out[:, [elbow, wrist]], out[:, shoulder], -left, sh_d)
    for axis, angle in ((left, offsets.torso_lean_deg), (fwd, -offsets.torso_side_lean_deg),
                        (up, offsets.torso_twist_deg)):
        if angle or axis is left:
            out[:, _UPPER] = _rotate(out[:, _UPPER], out[:, _ROOT], axis, w * np.deg2rad(angle))
    return out


def mirror_pose(joints, *, axis: int = 0) -> np.ndarray:
    """Left-right mirror of ``(T, 17, 3)`` h36m17 joints: negate coordinate ``axis`` (x of a Y-up world or of the
    camera frame) and swap every left/right joint pair; a new float64 array, bone lengths kept (sides swapped)."""
    j = _check_joints(joints)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    out = j[:, _FLIP]
    out[..., axis] *= -1.0
    return out


def _arms(rng: np.random.Generator, aug: PoseAugment) -> dict[str, tuple[float, float]]:
    return {"shoulder_flexion_deg": tuple(rng.uniform(*aug.shoulder_flexion_deg, size=2)),
            "shoulder_abduction_deg": tuple(rng.uniform(*aug.shoulder_abduction_deg, size=2)),
            "elbow_flexion_deg": tuple(rng.uniform(*aug.elbow_flexion_deg, size=2))}


def sample_offsets(rng: np.random.Generator, aug: PoseAugment = PoseAugment(), *,
                   current_hip_flexion_deg=(0.0, 0.0), current_knee_flexion_deg=(0.0, 0.0)) -> PoseOffsets:
    """One random :class:`PoseOffsets` drawn as :class:`PoseAugment` describes (squat, sit, bend, reach or a
    generic draw).

    Squat and sit hip and knee ranges are totals: the offsets are the drawn angles minus the pose's
    ``current_hip_flexion_deg`` / ``current_knee_flexion_deg`` ``(right, left)`` (e.g. a window's mean thigh
    forward angle and knee flexion), floored at 0; other draws are plain offsets."""
    cur_hip = _pair(current_hip_flexion_deg, "current_hip_flexion_deg")
    cur_knee = _pair(current_knee_flexion_deg, "current_knee_flexion_deg")
    u = rng.random()
    edges = np.cumsum([aug.squat_prob, aug.sit_prob, aug.bend_prob, aug.reach_prob])
    if u < edges[1]:  # squat or sit: totals
        squat = u < edges[0]
        hip = rng.uniform(*(aug.squat_hip_flexion_deg if squat else aug.sit_hip_flexion_deg))
        tilt = rng.uniform(*(aug.squat_shank_tilt_deg if squat else aug.sit_shank_tilt_deg))
        knee = float(np.clip(hip + tilt, *(aug.squat_knee_flexion_deg if squat else aug.sit_knee_flexion_deg)))
        arms = _arms(rng, aug) if aug.arm_prob > 0 and rng.random() < aug.arm_prob else {}
        return PoseOffsets(hip_flexion_deg=tuple(max(hip - c, 0.0) for c in cur_hip),
                           knee_flexion_deg=tuple(max(knee - c, 0.0) for c in cur_knee),
                           hip_abduction_deg=tuple(rng.uniform(*aug.hip_abduction_deg, size=2)),
                           torso_lean_deg=rng.uniform(*(aug.squat_torso_lean_deg if squat else
                                                        aug.sit_torso_lean_deg)), **arms)
    if u < edges[2]:  # bend: straight-ish legs, torso forward, arms hanging
        lean = rng.uniform(*aug.bend_torso_lean_deg)
        return PoseOffsets(hip_flexion_deg=tuple(rng.uniform(*aug.bend_hip_flexion_deg, size=2)),
                           knee_flexion_deg=tuple(rng.uniform(*aug.bend_knee_flexion_deg, size=2)),
                           hip_abduction_deg=tuple(rng.uniform(*aug.hip_abduction_deg, size=2)),
                           torso_lean_deg=lean,
                           shoulder_flexion_deg=tuple(np.maximum(lean + rng.uniform(*aug.bend_arm_deg, size=2), 0)),
                           torso_twist_deg=rng.uniform(*aug.torso_twist_deg) / 2)
    generic = PoseOffsets(hip_flexion_deg=tuple(rng.uniform(*aug.hip_flexion_deg, size=2)),
                          knee_flexion_deg=tuple(rng.uniform(*aug.knee_flexion_deg, size=2)),
                          hip_abduction_deg=tuple(rng.uniform(*aug.hip_abduction_deg, size=2)),
                          torso_lean_deg=rng.uniform(*aug.torso_lean_deg))
    if u < edges[3]:  # reach: the arms and the torso's twist and side lean
        return replace(generic, **_arms(rng, aug), torso_twist_deg=rng.uniform(*aug.torso_twist_deg),
                       torso_side_lean_deg=rng.uniform(*aug.torso_side_lean_deg))
    return generic


def random_augment(joints, rng: np.random.Generator, aug: PoseAugment = PoseAugment()) -> np.ndarray:
    """``joints`` ``(T, 17, 3)`` bent by one draw of :func:`sample_offsets` (squat/sit totals relative to the
    window's mean leg angles; the same offsets for every frame, or scaled by a smooth bend-and-rise envelope, see
    :class:`PoseAugment`); a new ``(T, 17, 3)`` float64 array. The same generator state gives the same result."""
    j = _check_joints(joints)
    left, up, fwd = body_axes(j)
    means = np.array([[np.degrees(a).mean() for a in _leg_angles(j, left, up, fwd, leg)] for leg in _LEGS])
    offsets = sample_offsets(rng, aug, current_hip_flexion_deg=means[:, 0], current_knee_flexion_deg=means[:, 1])
    weights = None
    if rng.random() < aug.ramp_prob:
        period, phase = rng.uniform(*aug.ramp_period_frames), rng.uniform(0.0, 2.0 * np.pi)
        weights = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(len(j)) / period + phase)
    return augment_pose(j, offsets, weights=weights, max_hip_flexion_deg=aug.max_hip_flexion_deg,
                        max_knee_flexion_deg=aug.max_knee_flexion_deg,
                        max_shoulder_flexion_deg=aug.max_shoulder_flexion_deg,
                        max_elbow_flexion_deg=aug.max_elbow_flexion_deg)


VARIETY = PoseAugment(squat_prob=0.25, sit_prob=0.2, bend_prob=0.15, reach_prob=0.25, arm_prob=0.5)
"""The pose-variety setting of the lifter training (``--pose-variety``): squats 25 %, sitting 20 %, bending 15 %,
reaching 25 %, generic leg offsets 15 %; half the squats and sits also move the arms."""
