"""Poses of any skeleton -> a common, normalised pose space (root-relative, scale-free, optionally mirrored).

Pipeline of :func:`normalize_poses`, in this order:

1. **Common joint set.** Keypoints are re-indexed to ``target`` (default ``coco17``) through posekit's explicit
   mappings (:func:`posekit.skeletons.mapping`, or a composition of two of them through one intermediate table,
   e.g. ``mpii16 -> lsp14 -> coco17``), then restricted to ``joints`` (default :data:`BODY12`: shoulders, elbows,
   wrists, hips, knees, ankles -- the joints COCO-17, MPII-16, LSP-14, H3.6M-17 and BlazePose-33 all have).
2. **Missing joints.** A joint is missing when its coordinates are not finite or its score is ``<= score_threshold``
   (default 0, so COCO ``v=0`` joints given as scores are missing). Missing joints stay NaN -- never zero.
3. **Root subtraction.** The root is the mid-hip (mean of ``left_hip`` and ``right_hip``; H3.6M's pelvis is this
   point up to marker placement). Poses without both hips are dropped.
4. **Frame (3D only).** ``"camera"`` keeps the input axes; ``"body"`` rotates about the ``up`` axis so the hip line
   (``left_hip - right_hip``) projected on the horizontal plane points along ``+x`` (yaw removed).
5. **Scale.** ``"torso"``: divide by the mid-shoulder to mid-hip distance (poses without both shoulders are
   dropped); ``"bones"``: divide by the mean length of the available limb bones (upper arms, forearms, thighs,
   shins; at least two needed); ``None``: keep the input unit (pixels, mm, ...).
6. **Left-right canonicalisation** (optional, :func:`canonical_lr`). The mirror of a pose, :func:`mirror_lr`,
   negates ``x`` and swaps every ``left_*`` joint with its ``right_*`` twin (what a horizontal image flip does to
   the annotation); it is an involution. It keeps the subject's left shoulder on the same side (a frontal pose
   stays frontal), so the rule cannot be "left shoulder on ``+x``"; instead, of a pose and its mirror the
   canonical one is the one whose limb joints lean to ``+x``: ``s = sum over L/R pairs present on both sides of
   (x_L + x_R) >= 0`` (``s`` changes sign under the mirror; ties are broken by ``sum (y_L - y_R) >= 0`` then
   ``sum (z_L - z_R) >= 0``). So a pose and its mirror image map to the same point, e.g. "left arm raised" and
   "right arm raised" coincide. Canonicalisation is idempotent.
7. **Too few joints.** Poses with fewer than ``min_joints`` present joints (after 1-2) are dropped too; the kept
   input rows are ``PoseSet.indices`` and ``PoseSet.n_dropped`` counts the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit import skeletons as sk
from posekit.skeletons import KeypointMapping, Skeleton

BODY12: tuple[str, ...] = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
"""The 12 limb joints shared by coco17, mpii16, lsp14, h36m17 and blazepose33 (coco17 names and order)."""

LIMB_BONES: tuple[tuple[str, str], ...] = tuple(
    (f"{side}_{a}", f"{side}_{b}")
    for side in ("left", "right")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
)
"""The 8 limb bones used by ``scale="bones"``."""

_TABLES = (sk.coco17, sk.mpii16, sk.lsp14, sk.h36m17, sk.blazepose33)


@dataclass(frozen=True, eq=False)
class PoseSet:
    """Normalised poses of one dataset in the common pose space.

    Attributes:
        points: (N, J, D) float64, D = 2 or 3, root (mid-hip) at the origin, unit = scale reference (torso length
            or mean bone length; the input unit when ``scale=None``); NaN = missing joint. For 2D inputs in image
            pixels the axes stay x right, y down.
        joint_names: J names (``points[:, j]`` is ``joint_names[j]``).
        dataset: free label, e.g. ``"coco"``.
        source_skeleton: name of the skeleton the poses came from.
        indices: (N,) int64 row of each kept pose in the input (dropped poses are absent).
        n_input: number of input poses (``n_input - N`` were dropped).
        frame: ``"image"`` (2D), ``"camera"`` or ``"body"`` (3D).
    """

    points: np.ndarray
    joint_names: tuple[str, ...]
    dataset: str = ""
    source_skeleton: str = ""
    indices: np.ndarray | None = None
    n_input: int | None = None
    frame: str = "image"

    def __post_init__(self) -> None:
        pts = np.array(self.points, dtype=np.float64)
        names = tuple(str(n) for n in self.joint_names)
        if pts.ndim != 3 or pts.shape[2] not in (2, 3) or pts.shape[1] != len(names):
            raise ValueError(
                f"PoseSet {self.dataset!r}: points must have shape (N, {len(names)}, 2 or 3) to match "
                f"{len(names)} joint names, got {pts.shape}"
            )
        idx = np.arange(len(pts)) if self.indices is None else np.asarray(self.indices, dtype=np.int64)
        if idx.shape != (len(pts),):
            raise ValueError(f"PoseSet {self.dataset!r}: indices must have shape ({len(pts)},), got {idx.shape}")
        pts.flags.writeable = False
        idx = idx.copy()
        idx.flags.writeable = False
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "joint_names", names)
        object.__setattr__(self, "indices", idx)
        object.__setattr__(self, "n_input", len(pts) if self.n_input is None else int(self.n_input))

    def __len__(self) -> int:
        return self.points.shape[0]

    @property
    def dim(self) -> int:
        return self.points.shape[2]

    @property
    def present(self) -> np.ndarray:
        """(N, J) bool, True where the joint is present (finite)."""
        return np.isfinite(self.points).all(axis=2)

    @property
    def n_dropped(self) -> int:
        return self.n_input - len(self)

    def select(self, rows) -> PoseSet:
        """A new PoseSet of the given rows (index array or bool mask); ``indices`` keep pointing into the input."""
        rows = np.arange(len(self))[rows]
        return PoseSet(self.points[rows], self.joint_names, self.dataset, self.source_skeleton,
                       self.indices[rows], self.n_input, self.frame)


def common_mapping(source: Skeleton, target: Skeleton) -> KeypointMapping:
    """``source -> target`` from posekit's explicit mappings: identity, a defined one, or two composed through one
    of coco17 / mpii16 / lsp14 / h36m17 / blazepose33. Raises ``ValueError`` naming both skeletons otherwise."""
    try:
        return sk.mapping(source, target)
    except ValueError:
        pass
    for via in _TABLES:
        try:
            return sk.mapping(source, via).then(sk.mapping(via, target))
        except ValueError:
            continue
    raise ValueError(
        f"no keypoint mapping from skeleton {source.name!r} to {target.name!r} (directly or through one of "
        f"{[t.name for t in _TABLES]}); add one to posekit.skeletons"
    )


def mirror_lr(points: np.ndarray, joint_names) -> np.ndarray:
    """Mirror image of (..., J, D) poses: ``x -> -x`` and ``left_*`` <-> ``right_*`` swapped. An involution."""
    names = tuple(joint_names)
    perm = [names.index(_swap_side(n)) if _swap_side(n) in names else i for i, n in enumerate(names)]
    out = np.array(points, dtype=np.float64)[..., perm, :]
    out[..., 0] = -out[..., 0]
    return out


def _swap_side(name: str) -> str:
    swap = {"left": "right", "right": "left"}
    return "_".join(swap.get(t, t) for t in name.split("_"))


def canonical_lr(points: np.ndarray, joint_names) -> np.ndarray:
    """Of each (N, J, D) pose and its :func:`mirror_lr` image, the canonical one (rule in the module docstring)."""
    pts = np.asarray(points, dtype=np.float64)
    names = tuple(joint_names)
    pairs = [(i, names.index(_swap_side(n))) for i, n in enumerate(names)
             if n.startswith("left_") and _swap_side(n) in names]
    if not pairs:
        raise ValueError(f"canonicalize_lr: no left/right joint pairs among {names}")
    li, ri = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    both = np.isfinite(pts[:, li]).all(-1) & np.isfinite(pts[:, ri]).all(-1)  # (N, P)
    keys = [np.where(both, pts[:, li, 0] + pts[:, ri, 0], 0.0).sum(1)]
    for axis in range(1, pts.shape[2]):
        keys.append(np.where(both, pts[:, li, axis] - pts[:, ri, axis], 0.0).sum(1))
    flip = np.zeros(len(pts), dtype=bool)
    decided = np.zeros(len(pts), dtype=bool)
    for key in keys:
        key = np.round(key, 9)  # float noise must not decide a tie
        flip |= ~decided & (key < 0)
        decided |= key != 0
    out = pts.copy()
    out[flip] = mirror_lr(pts[flip], names)
    return out


def normalize_poses(
    keypoints,
    skeleton: Skeleton | None = None,
    *,
    scores=None,
    dataset: str = "",
    target: Skeleton = sk.coco17,
    joints: tuple[str, ...] = BODY12,
    min_shared: int | None = None,
    scale: str | None = "torso",
    canonicalize_lr: bool = False,
    frame: str = "camera",
    up: str = "y",
    score_threshold: float = 0.0,
    min_joints: int = 6,
) -> PoseSet:
    """Bring poses of any skeleton to the common normalised pose space (steps in the module docstring).

    Args:
        keypoints: (N, K, D) array, D = 2 (image pixels) or 3 (any metric unit), NaN = missing; or a
            :class:`posekit.types.Poses` / ``Poses3D`` (its keypoints, scores and skeleton are used). Not modified.
        skeleton: layout of ``keypoints`` (taken from the object when it has one).
        scores: optional (N, K) confidences / visibilities; joints with ``score <= score_threshold`` are missing.
        dataset: label stored in the result.
        target, joints: the common joint set (names of ``target``); default the 12 :data:`BODY12` limb joints.
        min_shared: how many of ``joints`` the source must map (default all); fewer -> ``ValueError`` naming both
            skeletons. Requested joints the source lacks (when allowed) are NaN columns.
        scale: ``"torso"``, ``"bones"`` or ``None``.
        canonicalize_lr: replace each pose by the canonical one of it and its mirror image.
        frame: 3D only: ``"camera"`` (input axes) or ``"body"`` (yaw about ``up`` removed, hips along ``+x``).
        up: 3D only: the vertical axis, ``"y"`` (camera frames, y down) or ``"z"`` (z-up world frames).
        min_joints: poses with fewer present joints are dropped (counted in ``PoseSet.n_dropped``).

    Returns:
        A :class:`PoseSet` of the kept poses.
    """
    if hasattr(keypoints, "keypoints") and hasattr(keypoints, "skeleton"):
        skeleton = keypoints.skeleton if skeleton is None else skeleton
        scores = keypoints.scores if scores is None else scores
        keypoints = keypoints.keypoints
    if skeleton is None:
        raise ValueError("normalize_poses: skeleton is required for a plain keypoint array")
    kpts = np.array(keypoints, dtype=np.float64)
    k = skeleton.num_keypoints
    if kpts.ndim != 3 or kpts.shape[1] != k or kpts.shape[2] not in (2, 3):
        raise ValueError(f"keypoints must have shape (N, {k}, 2 or 3) for skeleton {skeleton.name!r}, "
                         f"got {kpts.shape}")
    if scale not in ("torso", "bones", None):
        raise ValueError(f"scale must be 'torso', 'bones' or None, got {scale!r}")
    if frame not in ("camera", "body"):
        raise ValueError(f"frame must be 'camera' or 'body', got {frame!r}")
    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.shape != kpts.shape[:2]:
            raise ValueError(f"scores must have shape {kpts.shape[:2]} to match keypoints, got {sc.shape}")
        kpts[~(sc > score_threshold)] = np.nan
    kpts[~np.isfinite(kpts).all(axis=2)] = np.nan

    mp = common_mapping(skeleton, target)
    for j in joints:
        target.index(j)  # KeyError naming the target when a requested joint is not in it
    mapped = {target.keypoints[d]: s for s, d in mp.pairs}
    shared = [j for j in joints if j in mapped]
    need = len(joints) if min_shared is None else min_shared
    if len(shared) < need:
        missing = [j for j in joints if j not in mapped]
        raise ValueError(
            f"skeletons {skeleton.name!r} and {target.name!r} share {len(shared)} of the {len(joints)} requested "
            f"joints (need {need}); {skeleton.name!r} has no {missing}"
        )
    pts = np.full((len(kpts), len(joints), kpts.shape[2]), np.nan)
    for j, name in enumerate(joints):
        if name in mapped:
            pts[:, j] = kpts[:, mapped[name]]
    names = tuple(joints)
    col = {n: i for i, n in enumerate(names)}
    for req in ("left_hip", "right_hip") + (("left_shoulder", "right_shoulder") if scale == "torso" else ()):
        if req not in col:
            raise ValueError(f"normalize_poses: joints must include {req!r} (root / scale reference)")

    keep = np.isfinite(pts).all(axis=2).sum(axis=1) >= min_joints
    root = 0.5 * (pts[:, col["left_hip"]] + pts[:, col["right_hip"]])
    keep &= np.isfinite(root).all(axis=1)
    pts = pts - root[:, None, :]

    if pts.shape[2] == 3 and frame == "body":
        pts = _remove_yaw(pts, col, up)

    if scale is not None:
        if scale == "torso":
            mid_sh = 0.5 * (pts[:, col["left_shoulder"]] + pts[:, col["right_shoulder"]])
            ref = np.linalg.norm(mid_sh, axis=1)  # root is at the origin
        else:
            bones = [(col[a], col[b]) for a, b in LIMB_BONES if a in col and b in col]
            lengths = np.stack([np.linalg.norm(pts[:, a] - pts[:, b], axis=1) for a, b in bones], axis=1)
            n_ok = np.isfinite(lengths).sum(axis=1)
            ref = np.where(n_ok >= 2, np.where(np.isfinite(lengths), lengths, 0.0).sum(1) / np.maximum(n_ok, 1),
                           np.nan)
        keep &= np.isfinite(ref) & (ref > 1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            pts = pts / ref[:, None, None]

    if canonicalize_lr:
        pts = canonical_lr(pts, names)

    out_frame = "image" if pts.shape[2] == 2 else frame
    rows = np.flatnonzero(keep)
    return PoseSet(pts[rows], names, dataset, skeleton.name, rows, len(kpts), out_frame)


def _remove_yaw(pts: np.ndarray, col: dict, up: str) -> np.ndarray:
    """Rotate (N, J, 3) poses about the ``up`` axis so the horizontal hip line points along +x."""
    h = pts[:, col["left_hip"]] - pts[:, col["right_hip"]]
    a, b = (0, 2) if up == "y" else (0, 1)  # the horizontal plane's axes
    theta = np.arctan2(h[:, b], h[:, a])
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = pts.copy()
    out[..., a] = c * pts[..., a] + s * pts[..., b]
    out[..., b] = -s * pts[..., a] + c * pts[..., b]
    return out


def flatten(poses: PoseSet, *, fill: str = "mean") -> np.ndarray:
    """(N, J*D) float64 feature rows of a PoseSet (joint-major: x0, y0, [z0], x1, ...).

    Missing joints are filled: ``"mean"`` with that coordinate's mean over the set's present values (the origin
    when a joint is missing everywhere), ``"zero"`` with the origin (= the root), ``"nan"`` leaves NaN. Filling
    biases distances toward the set's mean pose; :mod:`posekit.generalization.coverage` uses NaN-aware distances
    instead and needs no fill.
    """
    if fill not in ("mean", "zero", "nan"):
        raise ValueError(f"fill must be 'mean', 'zero' or 'nan', got {fill!r}")
    x = poses.points.reshape(len(poses), -1).copy()
    if fill == "nan":
        return x
    missing = ~np.isfinite(x)
    if fill == "zero" or len(x) == 0:
        x[missing] = 0.0
        return x
    counts = (~missing).sum(axis=0)
    means = np.where(counts > 0, np.where(missing, 0.0, x).sum(axis=0) / np.maximum(counts, 1), 0.0)
    return np.where(missing, means[None, :], x)
