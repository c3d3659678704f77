"""(2D, 3D) training pairs for lifters: mocap joints -> random virtual cameras -> pixels + camera-frame 3D.

Input: ``joints3d`` ``(T, 17, 3)`` float64 h36m17 joints in world millimetres (e.g. from
:mod:`posekit.threed.cmu_h36m`, Y up). Output per camera (:class:`Pairs`):

- ``keypoints2d`` ``(T, 17, 2)`` float64 pixels (x right, y down, origin at the top-left pixel's corner), with
  the optional detector-like noise; ``keypoints2d_clean`` without it; ``scores`` ``(T, 17)`` float64 in [0, 1].
- ``joints3d`` ``(T, 17, 3)`` float64 camera-frame (OpenCV: x right, y down, z forward) millimetres relative
  to the root (pelvis, joint 0, which is therefore zero) and ``root3d`` ``(T, 3)`` the root's camera-frame
  position, so ``camera.project_camera_points(joints3d + root3d[:, None])`` is ``keypoints2d_clean``.

Splits: hold out whole subjects or whole clips (:func:`split_by_subject`, :func:`split_by_clip`), never frames:
neighbouring frames at 120 fps are near-duplicates. CMU clip ids are ``"<subject>_<trial>"`` (``"02_01"``);
note that trials 02_01 and 02_02 exist both as AMC (subject 02) and as walk-cycle BVH: use one id per trial.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from posekit.skeletons import h36m17
from posekit.threed.cameras import Camera, random_camera

__all__ = [
    "H36M17_DETECTOR_SIGMAS",
    "DetectorNoise",
    "VirtualCameras",
    "Pairs",
    "project_pairs",
    "random_pairs",
    "apply_detector_noise",
    "person_size",
    "clip_subject",
    "split_by_subject",
    "split_by_clip",
]

# COCO OKS sigmas (pycocotools) where h36m17 has the COCO joint (hips .107, knees .087, ankles .089, shoulders
# .079, elbows .072, wrists .062); the root and spine take the hips' value, thorax the shoulders', and the
# neck/head-top points, which COCO lacks, a value between the face points (.025-.035) and the shoulders.
H36M17_DETECTOR_SIGMAS: tuple[float, ...] = (
    0.107, 0.107, 0.087, 0.089, 0.107, 0.087, 0.089, 0.107, 0.079, 0.060, 0.060,
    0.079, 0.072, 0.062, 0.079, 0.072, 0.062,
)


@dataclass(frozen=True)
class DetectorNoise:
    """2D noise resembling a keypoint detector's errors (per frame ``t`` and joint ``k``; ``s_t`` is
    :func:`person_size`, the square root of the clean keypoints' box area, in pixels):

    - jitter: Gaussian, per-axis std ``sigma_scale * sigmas[k] * s_t`` pixels;
    - outliers: with probability ``outlier_prob`` a joint moves instead to a uniform point of the disc of radius
      ``outlier_radius * s_t`` around its true position;
    - left/right swaps: with probability ``swap_prob`` per frame and left/right pair, the two are exchanged;
    - drops: with probability ``drop_prob`` the score is 0 (the coordinates stay, as a detector still outputs
      some position for an invisible joint).

    Scores of kept joints are the OKS-like similarity ``exp(-d^2 / (2 (2 sigmas[k] s_t)^2))`` to the truth
    (``d``: the displacement), so confident joints are the accurate ones.
    """

    sigma_scale: float = 0.5
    sigmas: tuple[float, ...] = H36M17_DETECTOR_SIGMAS
    outlier_prob: float = 0.01
    outlier_radius: float = 0.3
    swap_prob: float = 0.005
    drop_prob: float = 0.01
    flip_pairs: tuple[tuple[int, int], ...] = h36m17.flip_pairs

    def __post_init__(self) -> None:
        for name in ("sigma_scale", "outlier_radius"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("outlier_prob", "swap_prob", "drop_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if any(s <= 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be positive, got {self.sigmas}")


@dataclass(frozen=True)
class VirtualCameras:
    """Ranges of random virtual cameras (see :func:`posekit.threed.cameras.random_camera`); distances in mm.
    ``min_depth``: every joint of the clip must be at least this far in front of the camera (mm), else the
    camera is redrawn (up to ``max_tries`` times).

    Realistic cameras (all optional; the defaults give the original on-axis cameras):

    - ``fov_range_deg``: instead of ``focal_range``, a field of view across the longer image side drawn uniformly
      (degrees; ``f = (max(w, h) / 2) / tan(fov / 2)``);
    - ``image_sizes``: the image ``(width, height)`` is drawn from these (default ``(image_size,)``);
    - ``off_axis_deg``: after aiming at the clip's mean root, the camera turns about its centre so that the root
      lies this many degrees (uniform in the range) off the optical axis, in a uniformly random direction: the
      person is anywhere in the frame, not at the principal point;
    - ``keep_in_image``: redraw the camera until every joint of every frame projects inside the image.
    """

    focal_range: tuple[float, float] = (800.0, 1600.0)
    distance_range: tuple[float, float] = (3000.0, 7000.0)
    elevation_range_deg: tuple[float, float] = (-10.0, 40.0)
    azimuth_range_deg: tuple[float, float] = (-180.0, 180.0)
    image_size: tuple[int, int] = (1000, 1000)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    min_depth: float = 1000.0
    max_tries: int = 100
    fov_range_deg: tuple[float, float] | None = None
    image_sizes: tuple[tuple[int, int], ...] | None = None
    off_axis_deg: tuple[float, float] = (0.0, 0.0)
    keep_in_image: bool = False

    def __post_init__(self) -> None:
        if self.fov_range_deg is not None and not 1.0 <= self.fov_range_deg[0] <= self.fov_range_deg[1] < 170.0:
            raise ValueError(f"fov_range_deg must be (low, high) degrees within [1, 170), got {self.fov_range_deg}")
        if not 0.0 <= self.off_axis_deg[0] <= self.off_axis_deg[1] < 80.0:
            raise ValueError(f"off_axis_deg must be (low, high) degrees within [0, 80), got {self.off_axis_deg}")
        if self.image_sizes is not None and (not self.image_sizes or min(min(s) for s in self.image_sizes) <= 0):
            raise ValueError(f"image_sizes must be (width, height) pairs > 0, got {self.image_sizes}")

    def _draw(self, rng: np.random.Generator, target: np.ndarray) -> Camera:
        sizes = self.image_sizes or (self.image_size,)
        size = tuple(int(v) for v in sizes[rng.integers(len(sizes))]) if len(sizes) > 1 else tuple(sizes[0])
        focal = self.focal_range
        if self.fov_range_deg is not None:
            f = max(size) / 2.0 / np.tan(np.deg2rad(rng.uniform(*self.fov_range_deg)) / 2.0)
            focal = (f, f)
        cam = random_camera(rng, target=target, up=self.up, focal_range=focal, distance_range=self.distance_range,
                            elevation_range_deg=self.elevation_range_deg, azimuth_range_deg=self.azimuth_range_deg,
                            image_size=size)
        if self.off_axis_deg[1] <= 0:
            return cam
        theta = np.deg2rad(rng.uniform(*self.off_axis_deg))
        phi = rng.uniform(0.0, 2.0 * np.pi)
        # rotate the camera frame so that its former axis (the root's ray) points theta off the new axis
        axis = np.array([np.sin(phi), -np.cos(phi), 0.0])  # z x (cos phi, sin phi, 0)
        c, s = np.cos(theta), np.sin(theta)
        ax = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
        turn = c * np.eye(3) + s * ax + (1.0 - c) * np.outer(axis, axis)
        return Camera(cam.K, turn @ cam.R, turn @ cam.t, cam.dist, cam.image_size)

    def sample(self, rng: np.random.Generator, joints3d: np.ndarray) -> Camera:
        """A camera aimed at (or, with ``off_axis_deg``, beside) the clip's mean root position that sees every
        joint in front of it (and inside the image with ``keep_in_image``)."""
        joints3d = _check_joints(joints3d, "joints3d")
        target = joints3d[:, 0].mean(axis=0)
        for _ in range(self.max_tries):
            cam = self._draw(rng, target)
            pts = cam.world_to_camera(joints3d)
            if pts[..., 2].min() < self.min_depth:
                continue
            if self.keep_in_image:
                px = cam.project_camera_points(pts)
                if px.min() < 0 or np.any(px.max(axis=(0, 1)) > np.asarray(cam.image_size)):
                    continue
            return cam
        raise ValueError(f"no camera within {self.max_tries} tries keeps the clip {self.min_depth} mm in front of "
                         f"it{' and inside the image' if self.keep_in_image else ''}; the motion spans "
                         f"{np.ptp(joints3d.reshape(-1, 3), axis=0).round()} mm, raise distance_range "
                         f"{self.distance_range}")

    def sample_backed_off(self, rng: np.random.Generator, joints3d: np.ndarray) -> Camera:
        """:meth:`sample`, and for a clip that travels too far for it, the same draw with ``distance_range`` pushed
        back by the clip's largest root displacement along one axis (mm)."""
        try:
            return self.sample(rng, joints3d)
        except ValueError:
            extent = float(np.ptp(np.asarray(joints3d)[:, 0], axis=0).max())
            lo, hi = self.distance_range
            return dataclasses.replace(self, distance_range=(lo + extent, hi + extent)).sample(rng, joints3d)


@dataclass(frozen=True, eq=False)
class Pairs:
    """One clip seen by one camera; shapes and frames in the module docstring."""

    keypoints2d: np.ndarray
    keypoints2d_clean: np.ndarray
    scores: np.ndarray
    joints3d: np.ndarray
    root3d: np.ndarray
    camera: Camera
    clip: str = ""


def _check_joints(joints3d, name: str) -> np.ndarray:
    j = np.asarray(joints3d, dtype=np.float64)
    if j.ndim != 3 or j.shape[1:] != (17, 3):
        raise ValueError(f"{name} must have shape (T, 17, 3) (h36m17, mm), got {j.shape}")
    if j.shape[0] == 0 or not np.all(np.isfinite(j)):
        raise ValueError(f"{name} must hold at least one frame of finite values")
    return j


def person_size(keypoints2d: np.ndarray) -> np.ndarray:
    """``(..., K, 2)`` pixels -> ``(...,)`` sqrt of the keypoints' bounding-box area (pixels, >= 1)."""
    kp = np.asarray(keypoints2d, dtype=np.float64)
    ext = kp.max(axis=-2) - kp.min(axis=-2)
    return np.maximum(np.sqrt(ext[..., 0] * ext[..., 1]), 1.0)


def apply_detector_noise(
    keypoints2d: np.ndarray, rng: np.random.Generator, noise: DetectorNoise = DetectorNoise()
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt clean ``(T, K, 2)`` pixels with :class:`DetectorNoise`; returns new ``(T, K, 2)`` pixels and
    ``(T, K)`` scores (float64). The input is not modified."""
    kp = np.asarray(keypoints2d, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints2d must have shape (T, K, 2), got {kp.shape}")
    T, K, _ = kp.shape
    if len(noise.sigmas) != K:
        raise ValueError(f"noise.sigmas has {len(noise.sigmas)} values for {K} keypoints")
    sig = np.asarray(noise.sigmas, dtype=np.float64)
    s = person_size(kp)[:, None]  # (T, 1)
    out = kp + rng.normal(size=kp.shape) * (noise.sigma_scale * sig * s)[..., None]
    outlier = rng.random((T, K)) < noise.outlier_prob
    if outlier.any():
        n = int(outlier.sum())
        r = noise.outlier_radius * np.broadcast_to(s, (T, K))[outlier] * np.sqrt(rng.random(n))
        a = rng.uniform(0.0, 2 * np.pi, n)
        out[outlier] = kp[outlier] + np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)
    for a, b in noise.flip_pairs:
        swap = rng.random(T) < noise.swap_prob
        out[swap, a], out[swap, b] = out[swap, b].copy(), out[swap, a].copy()
    d2 = np.sum((out - kp) ** 2, axis=-1)
    scores = np.exp(-d2 / (2.0 * (2.0 * sig * s) ** 2))
    scores[rng.random((T, K)) < noise.drop_prob] = 0.0
    return out, scores


def project_pairs(joints3d: np.ndarray, camera: Camera, *, clip: str = "") -> Pairs:
    """Noise-free pairs of ``(T, 17, 3)`` world-mm joints seen by ``camera`` (scores all 1)."""
    j = _check_joints(joints3d, "joints3d")
    cam = camera.world_to_camera(j)
    root = cam[:, 0].copy()
    kp = camera.project_camera_points(cam)
    return Pairs(kp, kp.copy(), np.ones(kp.shape[:2]), cam - root[:, None], root, camera, clip)


def random_pairs(
    joints3d: np.ndarray,
    rng: np.random.Generator,
    *,
    num_cameras: int = 1,
    cameras: VirtualCameras = VirtualCameras(),
    noise: DetectorNoise | None = None,
    clip: str = "",
) -> list[Pairs]:
    """``num_cameras`` random views of one clip (``(T, 17, 3)`` world mm), each fixed over the clip, with
    ``noise`` applied to ``keypoints2d`` when given."""
    if num_cameras < 1:
        raise ValueError(f"num_cameras must be >= 1, got {num_cameras}")
    j = _check_joints(joints3d, "joints3d")
    out = []
    for _ in range(num_cameras):
        p = project_pairs(j, cameras.sample(rng, j), clip=clip)
        if noise is not None:
            kp, sc = apply_detector_noise(p.keypoints2d_clean, rng, noise)
            p = Pairs(kp, p.keypoints2d_clean, sc, p.joints3d, p.root3d, p.camera, clip)
        out.append(p)
    return out


_CLIP_RE = re.compile(r"^(\d+)_(\d+)$")


def clip_subject(clip_id: str) -> str:
    """CMU subject of a clip id or file name: ``"02_01"`` / ``".../02_01.amc"`` -> ``"02"``."""
    stem = PurePath(str(clip_id)).stem
    m = _CLIP_RE.match(stem)
    if not m:
        raise ValueError(f"clip id must look like '<subject>_<trial>' (e.g. '02_01'), got {clip_id!r}")
    return m.group(1)


def _unique(clip_ids: Sequence[str]) -> list[str]:
    ids = [PurePath(str(c)).stem for c in clip_ids]
    dup = sorted({c for c in ids if ids.count(c) > 1})
    if dup:
        raise ValueError(f"clip ids must be unique (one source per trial), repeated: {dup}")
    return ids


def split_by_subject(clip_ids: Sequence[str], *, test_subjects: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(train, test)`` clip ids (stems, input order): test holds every clip of ``test_subjects``."""
    ids = _unique(clip_ids)
    wanted = {str(s) for s in test_subjects}
    known = {clip_subject(c) for c in ids}
    if not wanted <= known:
        raise ValueError(f"test_subjects {sorted(wanted - known)} have no clip among {sorted(known)}")
    test = [c for c in ids if clip_subject(c) in wanted]
    return [c for c in ids if clip_subject(c) not in wanted], test


def split_by_clip(clip_ids: Sequence[str], *, test_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train, test)`` clip ids (stems, input order): ``round(test_fraction * n)`` whole clips (at least one
    each side when ``n >= 2``) drawn with ``seed``; the same ids and seed always give the same split."""
    ids = _unique(clip_ids)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if len(ids) < 2:
        raise ValueError(f"need at least 2 clips to split, got {len(ids)}")
    n_test = min(max(int(round(test_fraction * len(ids))), 1), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(sorted(ids))
    test = set(order[:n_test].tolist())
    return [c for c in ids if c not in test], [c for c in ids if c in test]
