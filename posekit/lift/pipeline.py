"""2D -> 3D lifting pipelines: posekit lifter checkpoints, :class:`Lifter`, tracks, and :class:`LiftingEstimator`.

* **Checkpoints** (:func:`save_lifter`, :func:`load_lifter`): a ``.safetensors`` file of the state_dict whose
  metadata key ``"posekit"`` holds the JSON description (format :data:`LIFTER_FORMAT`, architecture, skeleton,
  2D normalisation, training record), plus the same JSON as a ``.json`` file beside it. Both are written
  atomically. Loading never unpickles.
* :class:`Lifter`: a lifter network and the 2D normalisation it was trained with; :meth:`Lifter.lift` turns a
  (T, 17, 2) h36m17 pixel sequence into (T, 17, 3) root-relative millimetres (camera frame: x right, y down,
  z forward). posekit-trained lifters since issue #18 use ``root_scale_ray`` (camera-aware: needs the camera's
  intrinsics, :class:`~posekit.models.lifters.normalize.CameraIntrinsics`, default a 60 deg field of view across
  the longer image side); older ones ``root_scale`` (:func:`~posekit.models.lifters.normalize.root_scale_normalize`
  per frame: independent of image size, position, distance and focal length); official MMPose checkpoints use
  ``screen`` (VideoPose3D) or ``mean_std`` (SimpleBaseline3D; the image is first rescaled to 1000 px wide, the
  Human3.6M image width: an approximation for other cameras).
* Tracks (:func:`collect_tracks`): per-frame 2D :class:`~posekit.types.Poses` of any skeleton -> one h36m17
  sequence per track id (:mod:`posekit.threed.to_h36m`), gaps interpolated (:func:`interpolate_missing`).
* :class:`LiftingEstimator`: a 2D :class:`~posekit.pipelines.base.PoseEstimator` plus a :class:`Lifter`; returns
  h36m17 :class:`~posekit.types.Poses` whose ``keypoints_3d`` are the lifted joints. ``Poses.keypoints_3d`` must
  have the 2D skeleton's K, so the 2D keypoints are converted to h36m17 too (the lifter's skeleton); use the
  wrapped estimator for the original keypoints. Images are lifted one at a time (a temporal lifter then sees
  a still window); :meth:`LiftingEstimator.lift_frames` lifts whole tracked videos.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save
from torch import nn

from posekit.io.atomic import atomic_destination
from posekit.models.lifters.mlp import H36M_KEYPOINTS_MEAN, H36M_KEYPOINTS_STD, SimpleBaseline3D, simplebaseline3d
from posekit.models.lifters.normalize import (CameraIntrinsics, mean_std_normalize, root_scale_normalize,
                                              root_scale_ray_normalize, screen_normalize)
from posekit.models.lifters.sequence import lift_sequence
from posekit.models.lifters.temporal import videopose3d
from posekit.models.lifters.zoo import DEFAULT_LIFTER
from posekit.models.registry import create_model, get_entry, list_models
from posekit.models.weights import fetch_pretrained
from posekit.pipelines.base import PoseEstimator
from posekit.skeletons import h36m17
from posekit.threed.to_h36m import to_h36m17
from posekit.types import Poses

__all__ = [
    "CameraIntrinsics", "LIFTER_FORMAT", "NORMALIZATIONS", "build_lifter", "save_lifter", "load_lifter", "Lifter", "resolve_lifter",
    "interpolate_missing", "Track2D", "collect_tracks", "LiftingEstimator",
]

LIFTER_FORMAT = "posekit-lifter/1"
NORMALIZATIONS = ("root_scale", "root_scale_ray", "screen", "mean_std")
_FAMILIES = ("simplebaseline3d", "videopose3d")


def build_lifter(arch: Mapping[str, Any]) -> nn.Module:
    """A lifter in eval mode from an architecture dict: ``{"family": "simplebaseline3d", "channels": C,
    "num_blocks": B, "dropout": p}`` or ``{"family": "videopose3d", "receptive_field": 1|27|81|243, "channels":
    C, "causal": bool, "dropout": p}`` (random weights; outputs in metres, h36m17)."""
    family = arch.get("family")
    if family == "simplebaseline3d":
        return simplebaseline3d(stem_channels=int(arch["channels"]), num_blocks=int(arch.get("num_blocks", 2)),
                                dropout=float(arch.get("dropout", 0.5)), h36m_stats=False)
    if family == "videopose3d":
        return videopose3d(receptive_field=int(arch["receptive_field"]), channels=int(arch["channels"]),
                           causal=bool(arch.get("causal", False)), dropout=float(arch.get("dropout", 0.25)))
    raise ValueError(f"arch['family'] must be one of {_FAMILIES}, got {family!r}")


def _check_meta(meta: Mapping[str, Any], where: str) -> None:
    for key in ("arch", "normalization", "skeleton"):
        if key not in meta:
            raise ValueError(f"{where}: lifter metadata lacks {key!r} (has {sorted(meta)})")
    if meta["skeleton"] != "h36m17":
        raise ValueError(f"{where}: lifter skeleton must be 'h36m17', got {meta['skeleton']!r}")
    if meta["normalization"].get("scheme") not in NORMALIZATIONS:
        raise ValueError(f"{where}: normalization scheme must be one of {NORMALIZATIONS}, got "
                         f"{meta['normalization'].get('scheme')!r}")


def save_lifter(path: str | os.PathLike[str], model: nn.Module, metadata: Mapping[str, Any]) -> Path:
    """Write ``model``'s state_dict to ``path`` (``.safetensors``) and ``metadata`` (``arch``, ``normalization``,
    ``skeleton`` and anything JSON-serialisable) into it and into ``path.with_suffix('.json')``, atomically.

    Returns the checkpoint path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"lifter checkpoint path must end with .safetensors, got {path}")
    meta = {"format": LIFTER_FORMAT, **dict(metadata)}
    _check_meta(meta, str(path))
    text = json.dumps(meta, indent=1, sort_keys=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_destination(path) as tmp:
        tmp.write_bytes(save(state, metadata={"posekit": text}))
    with atomic_destination(path.with_suffix(".json")) as tmp:
        tmp.write_text(text + "\n")
    return path


def load_lifter(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Lifter:
    """A :class:`Lifter` from a posekit checkpoint written by :func:`save_lifter` (strict key/shape check)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"lifter checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            text = (f.metadata() or {}).get("posekit")
    except Exception as exc:  # safetensors raises its own error types for non-safetensors files
        raise ValueError(f"{path} is not a safetensors file: {exc}") from None
    if text is None and path.with_suffix(".json").is_file():
        text = path.with_suffix(".json").read_text()
    if text is None:
        raise ValueError(f"{path} has no posekit lifter metadata (safetensors key 'posekit' or a .json beside it)")
    meta = json.loads(text)
    if meta.get("format") != LIFTER_FORMAT:
        raise ValueError(f"{path}: format must be {LIFTER_FORMAT!r}, got {meta.get('format')!r}")
    _check_meta(meta, str(path))
    model = build_lifter(meta["arch"])
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not match its arch {meta['arch']}: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}")
    return Lifter(model.to(device).eval(), meta["normalization"]["scheme"], name=str(path), metadata=meta)


@dataclass(frozen=True, eq=False)
class Lifter:
    """A lifter network with the 2D normalisation it expects.

    Attributes:
        model: ``SimpleBaseline3D`` / ``VideoPose3D`` (eval mode, h36m17, ``receptive_field`` frames).
        normalization: ``"root_scale_ray"``, ``"root_scale"``, ``"screen"`` or ``"mean_std"`` (module docstring).
        name: where it came from (checkpoint path or model name).
        metadata: the checkpoint's JSON description; for official checkpoints ``{"model": name, "weights": path}``.
    """

    model: nn.Module
    normalization: str
    name: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")

    @property
    def receptive_field(self) -> int:
        return int(self.model.receptive_field)

    @property
    def camera_aware(self) -> bool:
        """Whether :meth:`lift` uses camera intrinsics (``root_scale_ray``)."""
        return self.normalization == "root_scale_ray"

    def normalize(self, keypoints: Any, *, image_size: tuple[int, int] | None = None,
                  intrinsics: CameraIntrinsics | None = None) -> np.ndarray:
        """(T, 17, 2) h36m17 pixels -> the model's normalised input (T, 17, 2) float32. ``intrinsics`` are used
        by ``root_scale_ray`` only (default :class:`CameraIntrinsics` (): a 60 deg field of view, principal point
        at the image centre; ``image_size`` (w, h) is then needed)."""
        opts = self.metadata.get("normalization", {})
        if self.normalization == "root_scale":
            return root_scale_normalize(keypoints, root_index=0, per_sequence=bool(opts.get("per_sequence")))[0]
        if self.normalization == "root_scale_ray":
            try:
                f, c = (intrinsics or CameraIntrinsics()).resolve(image_size)
            except ValueError as exc:
                raise ValueError(f"{self.name or 'the lifter'} is camera-aware (root_scale_ray): {exc}") from None
            return root_scale_ray_normalize(keypoints, focal_length=f, principal_point=c, root_index=0,
                                            per_sequence=bool(opts.get("per_sequence")))[0]
        if image_size is None:
            raise ValueError(f"the {self.normalization!r} normalisation of {self.name} needs image_size (w, h)")
        w, h = image_size
        screen = screen_normalize(keypoints, width=w, height=h)
        if self.normalization == "screen":
            return screen
        pixels_1000 = (screen + np.array([1.0, h / w], np.float32)) * 500.0  # the image rescaled to 1000 px wide
        return mean_std_normalize(pixels_1000, mean=H36M_KEYPOINTS_MEAN, std=H36M_KEYPOINTS_STD)

    def lift(self, keypoints: Any, *, image_size: tuple[int, int] | None = None,
             focal_length: float | tuple[float, float] | None = None,
             principal_point: tuple[float, float] | None = None, fov_deg: float | None = None,
             intrinsics: CameraIntrinsics | None = None) -> np.ndarray:
        """(T, 17, 2) finite h36m17 pixels (one person, consecutive frames) -> (T, 17, 3) float32 millimetres,
        root-relative, camera frame (x right, y down, z forward); root (pelvis) = 0.

        Camera (``root_scale_ray`` lifters; ignored by the others): ``focal_length`` (px) or ``fov_deg`` (across
        the longer image side) and ``principal_point`` (px, default the image centre), or an ``intrinsics``
        object instead; nothing given: :data:`~posekit.models.lifters.normalize.DEFAULT_FOV_DEG`."""
        kpts = np.asarray(keypoints, dtype=np.float32)
        if kpts.ndim != 3 or kpts.shape[1:] != (17, 2):
            raise ValueError(f"keypoints must have shape (T, 17, 2) (h36m17 pixels), got {kpts.shape}")
        loose = (focal_length, principal_point, fov_deg)
        if intrinsics is not None and any(v is not None for v in loose):
            raise ValueError("give intrinsics or focal_length / principal_point / fov_deg, not both")
        if intrinsics is None:
            intrinsics = CameraIntrinsics(focal_length, principal_point, fov_deg)
        x = self.normalize(kpts, image_size=image_size, intrinsics=intrinsics)
        k3d = lift_sequence(self.model, x, unit="mm")
        return k3d - k3d[:, :1]  # VideoPose3D also predicts the root (trained towards 0): make it exactly 0


def resolve_lifter(model: str | None = None, weights: str | os.PathLike[str] | None = None, *,
                   device: str | torch.device = "cpu", progress: bool = True) -> Lifter:
    """The lifter for ``posekit lift [--model NAME] [--weights PATH]``.

    * no ``weights``: the official MMPose checkpoint of ``model`` (default
      :data:`~posekit.models.lifters.zoo.DEFAULT_LIFTER`, ``videopose3d_243f_h36m``), downloaded, verified and
      cached on first use (Human3.6M weights: research use only). When it cannot be downloaded,
      :class:`~posekit.models.weights.WeightsError` (a RuntimeError) names the model, the URL, the expected
      sha256 prefix and says to download it elsewhere and pass ``--weights PATH``;
    * a ``.safetensors`` posekit checkpoint: its own architecture; ``model`` (optional) must name the same
      family and receptive field (``simplebaseline3d_h36m``, ``videopose3d_{27,81,243}f_h36m``);
    * any other file: an official MMPose / VideoPose3D checkpoint for the zoo model ``model`` (required).

    The returned Lifter's ``metadata`` holds ``model`` and ``weights`` (the file read) for official checkpoints.
    """
    if weights is None:
        name = DEFAULT_LIFTER if model is None else model
        _check_lifter_name(name)
        spec = get_entry(name).weights
        if spec is None:
            raise ValueError(f"lifter {name} has no official checkpoint; pass --weights PATH")
        path = fetch_pretrained(spec, what=f"lifter {name}", progress=progress)
        return _official_lifter(name, path, device)
    weights = Path(weights)
    if weights.suffix == ".safetensors":
        lifter = load_lifter(weights, device=device)
        if model is not None:
            arch = lifter.metadata["arch"]
            rf = int(arch.get("receptive_field", 1))
            want = "simplebaseline3d_h36m" if arch["family"] == "simplebaseline3d" else f"videopose3d_{rf}f_h36m"
            if model != want:
                raise ValueError(f"--model {model} does not match the checkpoint {weights} ({want}); omit --model "
                                 "to use the checkpoint's own architecture")
        return lifter
    if model is None:
        raise ValueError(f"--model is required with an official checkpoint ({weights}): one of "
                         f"{', '.join(list_models(task='lift3d'))}")
    _check_lifter_name(model)
    return _official_lifter(model, weights, device)


def _check_lifter_name(name: str) -> None:
    if get_entry(name).task != "lift3d":
        raise ValueError(f"model {name!r} is not a lifter (task {get_entry(name).task!r}); see "
                         "`posekit models --task lift3d`")


def _official_lifter(name: str, path: Path, device: str | torch.device) -> Lifter:
    try:
        net = create_model(name, weights=str(path), device=device)
    except ValueError as exc:  # keys / shapes of another architecture
        raise ValueError(f"{path} is not a checkpoint of {name}: {exc}") from exc
    return Lifter(net, "mean_std" if isinstance(net, SimpleBaseline3D) else "screen", name=name,
                  metadata={"model": name, "weights": str(path)})


def interpolate_missing(keypoints: Any) -> np.ndarray:
    """Fill NaN joints of a (T, K, D) sequence by linear interpolation over time (held at the ends).

    Returns a new float32 array; raises ValueError naming the joints that are missing in every frame.
    """
    kpts = np.array(keypoints, dtype=np.float64)
    if kpts.ndim != 3 or len(kpts) == 0:
        raise ValueError(f"keypoints must have shape (T, K, D) with T >= 1, got {kpts.shape}")
    ok = np.isfinite(kpts).all(axis=-1)
    never = np.flatnonzero(~ok.any(axis=0))
    if len(never):
        raise ValueError(f"joints {never.tolist()} are missing in every frame; they cannot be interpolated")
    t = np.arange(len(kpts))
    for k in np.flatnonzero(~ok.all(axis=0)):
        for d in range(kpts.shape[-1]):
            kpts[:, k, d] = np.interp(t, t[ok[:, k]], kpts[ok[:, k], k, d])
    return kpts.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Track2D:
    """One person's h36m17 2D sequence over consecutive frames ``frames[0] .. frames[-1]``.

    Attributes:
        track_id: the id (0 for untracked input: the best-scoring instance of each frame).
        frames: (T,) int64 frame indices, consecutive.
        times: (T,) float64 seconds (NaN when unknown or the person is absent from the frame).
        keypoints: (T, 17, 2) float32 h36m17 pixels; NaN where missing or absent.
        scores: (T, 17) float32; 0 where missing.
        observed: (T,) bool, the person is present in the frame.
    """

    track_id: int
    frames: np.ndarray
    times: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    observed: np.ndarray


def collect_tracks(frames: Sequence[tuple[int, float | None, Poses]], *, min_score: float = 0.3) -> list[Track2D]:
    """Per-frame 2D poses -> one :class:`Track2D` per track id, longest first.

    Args:
        frames: ``(frame_index, time_s, poses)`` in any order; frame indices unique. Poses of any skeleton
            :func:`~posekit.threed.to_h36m.to_h36m17` accepts. Without ``track_ids`` in any frame, track 0 is the
            instance with the highest :meth:`~posekit.types.Poses.instance_scores` of each frame.
        min_score: keypoints with a lower score count as missing.
    """
    if not frames:
        raise ValueError("no frames to lift")
    index = [int(f[0]) for f in frames]
    if len(set(index)) != len(index):
        raise ValueError("frame indices must be unique")
    tracked = any(p.track_ids is not None for _, _, p in frames)
    per_id: dict[int, dict[int, tuple[float, np.ndarray, np.ndarray]]] = {}
    for frame, time_s, poses in frames:
        if len(poses) == 0:
            continue
        k2d, s2d = to_h36m17(poses.keypoints, poses.scores, poses.skeleton, min_score=min_score)
        if tracked:
            if poses.track_ids is None:
                raise ValueError(f"frame {frame} has poses without track_ids while other frames have them")
            pairs = [(int(t), i) for i, t in enumerate(poses.track_ids)]
        else:
            pairs = [(0, int(np.argmax(poses.instance_scores())))]
        t = np.nan if time_s is None else float(time_s)
        for tid, i in pairs:
            per_id.setdefault(tid, {})[int(frame)] = (t, k2d[i], s2d[i])
    tracks = []
    for tid, seen in per_id.items():
        first, last = min(seen), max(seen)
        n = last - first + 1
        kp, sc = np.full((n, 17, 2), np.nan, np.float32), np.zeros((n, 17), np.float32)
        times, observed = np.full(n, np.nan), np.zeros(n, bool)
        for f, (t, k, s) in seen.items():
            kp[f - first], sc[f - first], times[f - first], observed[f - first] = k, s, t, True
        tracks.append(Track2D(tid, np.arange(first, last + 1, dtype=np.int64), times, kp, sc, observed))
    return sorted(tracks, key=lambda tr: (-int(tr.observed.sum()), tr.track_id))


class LiftingEstimator(PoseEstimator):
    """A 2D estimator followed by a lifter: ``est(image)`` -> h36m17 :class:`~posekit.types.Poses` with
    ``keypoints`` (N, 17, 2) pixels (converted by :func:`~posekit.threed.to_h36m.to_h36m17`) and ``keypoints_3d``
    (N, 17, 3) float32 millimetres, root-relative, camera frame (x right, y down, z forward); NaN for a person
    whose 2D pose misses a joint.

    Args:
        estimator: any 2D :class:`~posekit.pipelines.base.PoseEstimator` (e.g. ``blazepose_full``).
        lifter: a :class:`Lifter` (e.g. ``load_lifter("lifter.safetensors")``).
        min_score: 2D keypoints below this score count as missing.
        intrinsics: the camera (:class:`~posekit.models.lifters.normalize.CameraIntrinsics`) for camera-aware
            lifters; default a 60 deg field of view across the longer image side, principal point at the centre.
    """

    skeleton = h36m17

    def __init__(self, estimator: PoseEstimator, lifter: Lifter, *, min_score: float = 0.3,
                 intrinsics: CameraIntrinsics | None = None) -> None:
        if not isinstance(lifter, Lifter):
            raise TypeError(f"lifter must be a posekit Lifter (see load_lifter), got {type(lifter).__name__}")
        if intrinsics is not None and not isinstance(intrinsics, CameraIntrinsics):
            raise TypeError(f"intrinsics must be a CameraIntrinsics, got {type(intrinsics).__name__}")
        self.intrinsics = intrinsics
        self.estimator = estimator
        self.lifter = lifter
        self.min_score = float(min_score)

    def _to_h36m(self, poses: Poses) -> Poses:
        k2d, s2d = to_h36m17(poses.keypoints, poses.scores, poses.skeleton, min_score=self.min_score)
        return Poses(k2d, s2d, poses.boxes, h36m17, box_scores=poses.box_scores, track_ids=poses.track_ids,
                     image_size=poses.image_size)

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        poses = self._to_h36m(self.estimator.predict_rgb(image, boxes=boxes))
        h, w = image.shape[:2]
        k3d = np.full((len(poses), 17, 3), np.nan, np.float32)
        for i in range(len(poses)):
            if np.isfinite(poses.keypoints[i]).all():
                k3d[i] = self.lifter.lift(poses.keypoints[i : i + 1], image_size=(w, h),
                                          intrinsics=self.intrinsics)[0]
        return replace(poses, keypoints_3d=k3d, image_size=(w, h))

    def lift_frames(self, frames: Sequence[Poses]) -> list[Poses]:
        """Per-frame 2D poses of a video (frame i = ``frames[i]``, any skeleton, ``track_ids`` from a tracker
        or one person per frame) -> per-frame h36m17 Poses with ``keypoints_3d``; every track is lifted as one
        sequence (gaps interpolated), so temporal lifters see real motion."""
        tracks = collect_tracks([(i, None, p) for i, p in enumerate(frames)], min_score=self.min_score)
        lifted: dict[tuple[int, int], np.ndarray] = {}
        for tr in tracks:
            size = next((p.image_size for p in frames if p.image_size is not None), None)
            k3d = self.lifter.lift(interpolate_missing(tr.keypoints), image_size=size, intrinsics=self.intrinsics)
            for f, pose in zip(tr.frames, k3d):
                lifted[tr.track_id, int(f)] = pose
        out = []
        for i, p in enumerate(frames):
            h = self._to_h36m(p)
            ids = h.track_ids if h.track_ids is not None else [0 if j == int(np.argmax(p.instance_scores())) else -1
                                                               for j in range(len(p))]
            nan = np.full((17, 3), np.nan, np.float32)
            k3d = np.stack([lifted.get((int(t), i), nan) for t in ids]) if len(h) else np.zeros((0, 17, 3))
            out.append(replace(h, keypoints_3d=k3d))
        return out
