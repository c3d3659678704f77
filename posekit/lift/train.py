"""Train a 2D -> 3D lifter (SimpleBaseline3D or VideoPose3D) on CMU motion capture seen by random virtual cameras.

    python -m posekit.lift.train --model simplebaseline3d --out runs/sb --steps N --seed S [--noise] \
        [--cameras off-axis|on-axis] [--normalization root_scale_ray|root_scale] [--[no-]mirror] \
        [--[no-]pose-variety] [--pose-aug P] [--h36m-3d data_3d_h36m.npz]

Data (:mod:`posekit.lift.data`, re-exported here): every CMU clip of ``../shared/data/mocap/cmu`` (28
ASF/AMC motions of subjects 01-03 and the BVH walk cycles; the BVH copies of 02_01/02_02 are dropped for their AMC
originals) as h36m17 joints in world mm at 120 fps, converted once and cached in ``$POSEKIT_HOME/mocap/``
(:func:`load_cmu_clips`), plus, with ``--h36m-3d``, the user's Human3.6M training subjects
(:func:`posekit.data.h36m.h36m_training_clips`). Split by clip and subject, never by frame:
:data:`DEFAULT_TEST_CLIPS` and every clip of :data:`DEFAULT_TEST_SUBJECTS` are held out.

Each step draws ``windows`` windows (clip chosen proportionally to its length; time stride 3-5 at 120 fps, i.e.
24-40 fps; with ``mirror`` half of them mirrored left-right by :func:`~posekit.threed.pose_augment.mirror_pose`;
with probability ``pose_aug`` the window's 3D poses are bent by
:func:`~posekit.threed.pose_augment.random_augment`: squats, and with ``--pose-variety``
(:data:`~posekit.threed.pose_augment.VARIETY`) sitting, bending and reaching, bone lengths kept), each seen by its
own random camera (:data:`TRAIN_CAMERAS`: realistic fields of view and image sizes, the person 0-25 deg off the
optical axis and inside the image; ``--cameras on-axis``: :data:`TRAIN_CAMERAS_ON_AXIS`, the cameras before issue
#18), roll +-10 deg, optionally with detector-like 2D noise (``--noise``). The 2D input is normalised per frame
by ``normalization``: ``root_scale_ray`` (:func:`~posekit.models.lifters.normalize.root_scale_ray_normalize`, the
camera's intrinsics; camera-aware) or ``root_scale``; the target is the root-relative camera-frame 3D pose in
metres; the loss is MPJPE. The budget is ``--steps`` (the cosine LR schedule follows the step fraction); runs are
seeded (``--seed``; one torch thread gives bit-identical runs). VideoPose3D trains in its dilated form on
``frames_per_window + receptive_field - 1`` frames per window.

Evaluation (:func:`evaluate_lifter`), the proxy of issue #18: every held-out clip at 30 fps through
``eval_cameras`` fixed random cameras per clip (:data:`EVAL_CAMERAS`: realistic intrinsics, the person 4-18 deg
off-axis; seeded), whole clips lifted; MPJPE, P-MPJPE, N-MPJPE in mm over all 17 joints, per motion
(:func:`posekit.lift.data.motion_of`), and predicted / true bone-length ratios; on clean 2D, with
:class:`~posekit.threed.pairs.DetectorNoise` defaults, and clean through the old on-axis cameras
(``clean_on_axis``). The checkpoint (``OUT/lifter.safetensors`` + ``.json``) is written by
:func:`posekit.lift.pipeline.save_lifter`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.data.h36m import h36m_training_clips, load_h36m
from posekit.lift.data import DEFAULT_TEST_CLIPS, DEFAULT_TEST_SUBJECTS, load_cmu_clips, motion_of, split_clips
from posekit.lift.pipeline import build_lifter, save_lifter
from posekit.metrics.mpjpe import mpjpe, n_mpjpe, p_mpjpe
from posekit.models.lifters.normalize import root_scale_normalize, root_scale_ray_normalize
from posekit.models.lifters.sequence import lift_sequence, sequence_padding
from posekit.skeletons import h36m17
from posekit.threed.cameras import Camera
from posekit.threed.pairs import DetectorNoise, VirtualCameras, apply_detector_noise
from posekit.threed.pose_augment import VARIETY, PoseAugment, mirror_pose, random_augment
from posekit.train.config import ScheduleConfig
from posekit.train.loop import lr_factor
from posekit.train.losses import mpjpe_loss

__all__ = [
    "DEFAULT_TEST_CLIPS", "DEFAULT_TEST_SUBJECTS", "TRAIN_CAMERAS", "TRAIN_CAMERAS_ON_AXIS", "EVAL_CAMERAS",
    "EVAL_CAMERAS_ON_AXIS", "REAL_IMAGE_SIZES", "LiftTrainConfig",
    "LiftTrainResult", "load_cmu_clips", "split_clips", "sample_batch", "make_eval_set", "evaluate_lifter",
    "train_lifter", "parse_args", "main",
]

REAL_IMAGE_SIZES: tuple[tuple[int, int], ...] = ((1000, 1000), (1000, 1002), (1920, 1080), (1080, 1920),
                                                  (1280, 720), (640, 480))
"""Image sizes of the realistic virtual cameras: Human3.6M (1000 x 1000 / 1000 x 1002), full HD and 720p
landscape, phone portrait video, VGA webcams."""
TRAIN_CAMERAS = VirtualCameras(fov_range_deg=(35.0, 80.0), image_sizes=REAL_IMAGE_SIZES, off_axis_deg=(0.0, 25.0),
                               distance_range=(2500.0, 9000.0), elevation_range_deg=(-15.0, 60.0), min_depth=800.0,
                               keep_in_image=True)
"""Camera-aware training: fields of view 35-80 deg across the longer side (Human3.6M's 1150 px at 1000 px is
47 deg, phones 65-69, webcams 55-78), the person 0-25 deg off the optical axis and inside the image."""
TRAIN_CAMERAS_ON_AXIS = VirtualCameras(focal_range=(500.0, 2500.0), distance_range=(2500.0, 9000.0),
                                       elevation_range_deg=(-15.0, 60.0), min_depth=800.0)
"""The cameras before issue #18 (``--cameras on-axis``): 1000 x 1000 images aimed at the person."""
EVAL_CAMERAS = VirtualCameras(fov_range_deg=(45.0, 70.0), image_sizes=REAL_IMAGE_SIZES, off_axis_deg=(4.0, 18.0),
                              distance_range=(3000.0, 7000.0), elevation_range_deg=(-10.0, 30.0), keep_in_image=True)
"""The proxy evaluation's cameras: realistic intrinsics and the person 4-18 deg off the optical axis."""
EVAL_CAMERAS_ON_AXIS = VirtualCameras()
"""The evaluation cameras before issue #18 (focal 800-1600 px at 1000 x 1000, aimed at the person)."""
CAMERA_SETS = {"off-axis": TRAIN_CAMERAS, "on-axis": TRAIN_CAMERAS_ON_AXIS}


@dataclass(frozen=True)
class LiftTrainConfig:
    """One lifter training run (see the module docstring). ``channels=None``: 512 for SimpleBaseline3D and
    receptive fields <= 27, 256 above (sized for CPUs). The budget is ``steps``; the cosine schedule follows the step
    fraction. ``max_minutes`` is only a safety stop (a stopped run is not the configured one: ``steps_run`` in the
    checkpoint says how far it got). ``pose_aug``: probability per window of bending its 3D poses with
    ``pose_augment`` (:func:`posekit.threed.pose_augment.random_augment`) before the camera; ``mirror``: left-right
    mirroring of half the windows; ``cameras``: the virtual cameras (:data:`TRAIN_CAMERAS` off-axis, or
    :data:`TRAIN_CAMERAS_ON_AXIS`); ``normalization``: ``"root_scale_ray"`` (camera-aware) or ``"root_scale"``."""

    model: str = "videopose3d"
    receptive_field: int = 27
    channels: int | None = None
    num_blocks: int = 2
    dropout: float = 0.25
    causal: bool = False
    steps: int = 3000
    max_minutes: float | None = None
    windows: int = 32
    frames_per_window: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    noise: bool = False
    pose_aug: float = 0.5
    pose_augment: PoseAugment = PoseAugment()
    mirror: bool = True
    strides: tuple[int, ...] = (3, 4, 5)
    max_roll_deg: float = 10.0
    cameras: VirtualCameras = TRAIN_CAMERAS
    eval_stride: int = 4
    eval_cameras: int = 4
    seed: int = 0
    log_every: int = 50
    normalization: str = "root_scale_ray"

    def __post_init__(self) -> None:
        if self.normalization not in ("root_scale", "root_scale_ray"):
            raise ValueError(f"normalization must be 'root_scale' or 'root_scale_ray', got {self.normalization!r}")
        if self.model not in ("simplebaseline3d", "videopose3d"):
            raise ValueError(f"model must be 'simplebaseline3d' or 'videopose3d', got {self.model!r}")
        if self.model == "videopose3d" and self.receptive_field not in (1, 27, 81, 243):
            raise ValueError(f"receptive_field must be 1, 27, 81 or 243, got {self.receptive_field}")
        for name in ("steps", "windows", "frames_per_window", "eval_stride", "eval_cameras", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.pose_aug <= 1.0:
            raise ValueError(f"pose_aug must be a probability in [0, 1], got {self.pose_aug}")
        if not self.strides or min(self.strides) < 1:
            raise ValueError(f"strides must be positive frame steps, got {self.strides}")

    @property
    def rf(self) -> int:
        return 1 if self.model == "simplebaseline3d" else self.receptive_field

    def arch(self) -> dict[str, Any]:
        """The architecture dict of :func:`posekit.lift.pipeline.build_lifter`."""
        channels = self.channels or (512 if self.rf <= 27 else 256)
        if self.model == "simplebaseline3d":
            return {"family": self.model, "channels": channels, "num_blocks": self.num_blocks, "dropout": self.dropout}
        return {"family": self.model, "receptive_field": self.rf, "channels": channels, "causal": self.causal,
                "dropout": self.dropout}


def _roll(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def _normalize(keypoints: np.ndarray, camera: Camera | None, normalization: str) -> np.ndarray:
    """(T, 17, 2) pixels -> the lifter input (T, 17, 2) float32 (``camera``'s intrinsics for root_scale_ray)."""
    if normalization == "root_scale":
        return root_scale_normalize(keypoints)[0]
    if camera is None:
        raise ValueError("the root_scale_ray normalisation needs the camera of the keypoints")
    return root_scale_ray_normalize(keypoints, focal_length=np.diag(camera.K)[:2], principal_point=camera.K[:2, 2])[0]


def sample_batch(clips: Sequence[np.ndarray], rng: np.random.Generator, cfg: LiftTrainConfig
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch.

    Returns:
        ``x`` (W, 34, n + rf - 1) float32 2D normalised as ``cfg.normalization`` (channel ``2k + c``) and ``y`` (W, n, 17, 3)
        float32 root-relative camera-frame 3D in metres, ``W = cfg.windows``, ``n = cfg.frames_per_window``;
        output frame i of a window is input frame ``i + left`` (edge-padded at the clip ends, as at inference).
    """
    rf, n = cfg.rf, cfg.frames_per_window
    left, right = sequence_padding(rf, causal=cfg.causal)
    lengths = np.array([len(c) for c in clips], np.float64)
    xs, ys = [], []
    for c in rng.choice(len(clips), size=cfg.windows, p=lengths / lengths.sum()):
        clip = clips[c]
        s = int(rng.choice(cfg.strides))
        t0 = int(rng.integers(0, max(len(clip) - s * (n - 1), 1)))
        idx = np.clip(t0 + s * np.arange(-left, n + right), 0, len(clip) - 1)
        w = clip[idx].astype(np.float64)
        if cfg.mirror and rng.random() < 0.5:
            w = mirror_pose(w)
        if cfg.pose_aug > 0 and rng.random() < cfg.pose_aug:
            w = random_augment(w, rng, cfg.pose_augment)
        cam = cfg.cameras.sample_backed_off(rng, w)
        pts = _roll(cam.world_to_camera(w), np.deg2rad(rng.uniform(-cfg.max_roll_deg, cfg.max_roll_deg)))
        kp = cam.project_camera_points(pts)
        if cfg.noise:
            kp = apply_detector_noise(kp, rng, DetectorNoise(sigma_scale=float(rng.uniform(0.0, 1.0))))[0]
        xs.append(_normalize(kp, cam, cfg.normalization).reshape(len(idx), 34).T)
        ys.append((pts - pts[:, :1])[left : left + n] / 1000.0)
    return torch.from_numpy(np.stack(xs).astype(np.float32)), torch.from_numpy(np.stack(ys).astype(np.float32))


@dataclass(frozen=True, eq=False)
class EvalSequence:
    """One held-out clip seen by one camera: ``keypoints`` (T, 17, 2) pixels, ``joints3d`` (T, 17, 3) mm
    root-relative camera frame, ``camera`` the :class:`~posekit.threed.cameras.Camera` (its intrinsics)."""

    clip: str
    keypoints: np.ndarray
    joints3d: np.ndarray
    camera: Camera | None = None


def make_eval_set(clips: Mapping[str, np.ndarray], *, noise: DetectorNoise | None = None, stride: int = 4,
                  cameras_per_clip: int = 4, cameras: VirtualCameras = EVAL_CAMERAS, seed: int = 1234
                  ) -> list[EvalSequence]:
    """Every clip (sorted by id, every ``stride``-th frame) through ``cameras_per_clip`` seeded random cameras,
    with ``noise`` on the 2D when given. The same arguments always give the same set, and the cameras do not
    depend on ``noise`` (clean and noisy sets are paired)."""
    cam_rng, noise_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    out = []
    for name in sorted(clips):
        joints = np.asarray(clips[name], np.float64)[::stride]
        for _ in range(cameras_per_clip):
            cam = cameras.sample_backed_off(cam_rng, joints)
            pts = cam.world_to_camera(joints)
            kp = cam.project_camera_points(pts)
            if noise is not None:
                kp = apply_detector_noise(kp, noise_rng, noise)[0]
            out.append(EvalSequence(name, kp, pts - pts[:, :1], cam))
    return out


def _bone_ratios(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Median predicted / true length of each h36m17 bone (named ``parent-child``) over the frames."""
    names = h36m17.keypoints
    out = {}
    for a, b in h36m17.links:
        lp = np.linalg.norm(pred[:, a] - pred[:, b], axis=-1)
        lg = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
        out[f"{names[a]}-{names[b]}"] = float(np.median(lp / np.maximum(lg, 1e-6)))
    return out


def evaluate_lifter(model: torch.nn.Module, eval_set: Sequence[EvalSequence], *,
                    normalization: str = "root_scale") -> dict[str, Any]:
    """MPJPE, P-MPJPE, N-MPJPE (mm, all 17 joints, frames pooled) of ``model`` (fed ``normalization`` inputs) on
    ``eval_set``, plus ``per_clip`` MPJPE, ``per_motion`` ``{label: {mpjpe, p_mpjpe, frames}}``
    (:func:`posekit.lift.data.motion_of`), ``bone_ratio`` (median predicted / true bone length per bone) with its
    mean absolute deviation from 1 (``bone_ratio_error``), and the ``frames`` count."""
    model.eval()
    preds = [lift_sequence(model, _normalize(s.keypoints, s.camera, normalization)) for s in eval_set]
    preds = [p - p[:, :1] for p in preds]  # root-relative (VideoPose3D predicts the root too)
    pred, gt = np.concatenate(preds), np.concatenate([s.joints3d for s in eval_set])
    per_clip: dict[str, list[float]] = {}
    by_motion: dict[str, list[int]] = {}
    for i, (s, p) in enumerate(zip(eval_set, preds)):
        per_clip.setdefault(s.clip, []).append(mpjpe(p, s.joints3d).value)
        by_motion.setdefault(motion_of(s.clip), []).append(i)
    per_motion = {}
    for label, ids in sorted(by_motion.items()):
        p, g = np.concatenate([preds[i] for i in ids]), np.concatenate([eval_set[i].joints3d for i in ids])
        per_motion[label] = {"mpjpe": mpjpe(p, g).value, "p_mpjpe": p_mpjpe(p, g).value, "frames": len(p)}
    ratios = _bone_ratios(pred, gt)
    return {"mpjpe": mpjpe(pred, gt).value, "p_mpjpe": p_mpjpe(pred, gt).value, "n_mpjpe": n_mpjpe(pred, gt).value,
            "frames": len(pred), "per_clip": {k: float(np.mean(v)) for k, v in per_clip.items()},
            "per_motion": per_motion, "bone_ratio": ratios,
            "bone_ratio_error": float(np.mean([abs(r - 1.0) for r in ratios.values()]))}


@dataclass(frozen=True, eq=False)
class LiftTrainResult:
    """``model`` (eval mode), per-step ``losses`` (mm), ``metrics`` (``clean``/``noisy`` dicts of
    :func:`evaluate_lifter`), ``steps`` run, ``seconds`` of training, ``checkpoint`` path or None."""

    model: torch.nn.Module
    losses: tuple[float, ...]
    metrics: dict[str, Any]
    steps: int
    seconds: float
    checkpoint: Path | None


def train_lifter(train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], cfg: LiftTrainConfig, *,
                 out: str | os.PathLike[str] | None = None, log: Callable[[str], None] = print) -> LiftTrainResult:
    """Train ``cfg``'s lifter on the ``train`` clips, evaluate on the ``test`` clips, save to ``out`` (a folder)
    when given. Clips are ``(T, 17, 3)`` h36m17 world mm at 120 fps (:func:`load_cmu_clips`)."""
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise ValueError(f"train and test share clips {overlap}")
    if not train or not test:
        raise ValueError(f"need train and test clips, got {len(train)} and {len(test)}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    clips = [np.asarray(train[k], np.float32) for k in sorted(train)]
    model = build_lifter(cfg.arch()).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = ScheduleConfig(kind="cosine", steps=cfg.steps, warmup_steps=min(100, cfg.steps // 10),
                           warmup_factor=0.01, min_lr_factor=0.01)
    budget = None if cfg.max_minutes is None else 60.0 * cfg.max_minutes
    losses: list[float] = []
    start = time.perf_counter()
    step = 0
    while step < cfg.steps and (budget is None or time.perf_counter() - start < budget):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, sched, cfg.steps)
        x, y = sample_batch(clips, rng, cfg)
        pred = model.forward_sequence(x, fuse=False)
        target = y[:, :, 1:] if pred.shape[2] == 16 else y  # SimpleBaseline3D omits the root
        loss = mpjpe_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(1000.0 * loss.item())
        step += 1
        if step % cfg.log_every == 0 or step == 1:
            recent = np.mean(losses[-cfg.log_every:])
            log(f"step {step:6d}  loss {recent:7.1f} mm  lr {opt.param_groups[0]['lr']:.2e}  "
                f"{time.perf_counter() - start:7.1f} s")
    seconds = time.perf_counter() - start
    model.eval()
    if step < cfg.steps:
        log(f"stopped by max_minutes after {step} of {cfg.steps} steps: not the configured run")
    metrics: dict[str, Any] = {}
    for cond, noise, cams in (("clean", None, EVAL_CAMERAS), ("noisy", DetectorNoise(), EVAL_CAMERAS),
                              ("clean_on_axis", None, EVAL_CAMERAS_ON_AXIS)):
        evs = make_eval_set(test, noise=noise, stride=cfg.eval_stride, cameras_per_clip=cfg.eval_cameras,
                            cameras=cams)
        metrics[cond] = evaluate_lifter(model, evs, normalization=cfg.normalization)
        m = metrics[cond]
        log(f"eval {cond:5s}: MPJPE {m['mpjpe']:.1f}  P-MPJPE {m['p_mpjpe']:.1f}  N-MPJPE {m['n_mpjpe']:.1f} mm "
            f"({m['frames']} frames)")
    ckpt = None
    if out is not None:
        meta = {
            "arch": cfg.arch(), "skeleton": "h36m17", "receptive_field": cfg.rf, "output_unit": "m",
            "output_frame": "root-relative camera frame (x right, y down, z forward), root = pelvis = 0",
            "normalization": _NORMALIZATION_META[cfg.normalization],
            "train": {**_jsonable(dataclasses.asdict(cfg)), "steps_run": step, "seconds": round(seconds, 1),
                      "train_clips": sorted(train), "test_clips": sorted(test), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()},
            "eval": {"stride_120fps": cfg.eval_stride, "cameras_per_clip": cfg.eval_cameras,
                     "cameras": _jsonable(dataclasses.asdict(EVAL_CAMERAS)),
                     "cameras_on_axis": _jsonable(dataclasses.asdict(EVAL_CAMERAS_ON_AXIS)),
                     "noise": _jsonable(dataclasses.asdict(DetectorNoise()))},
            "metrics": metrics,
        }
        ckpt = save_lifter(Path(out) / "lifter.safetensors", model, meta)
        log(f"saved {ckpt}")
    return LiftTrainResult(model, tuple(losses), metrics, step, seconds, ckpt)


_NORMALIZATION_META = {
    "root_scale": {"scheme": "root_scale", "root_index": 0, "per_sequence": False,
                   "description": "per frame: subtract the pelvis, divide by the RMS joint distance from the pelvis "
                                  "(posekit.models.lifters.normalize.root_scale_normalize)"},
    "root_scale_ray": {"scheme": "root_scale_ray", "root_index": 0, "per_sequence": False,
                       "description": "(p - c) / f with the camera intrinsics, then per frame: subtract the pelvis, "
                                      "divide by the RMS joint distance from the pelvis; the pelvis slot holds the "
                                      "pelvis ray (p_pelvis - c) / f (posekit.models.lifters.normalize."
                                      "root_scale_ray_normalize)"},
}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def parse_args(argv: Sequence[str] | None = None) -> tuple[LiftTrainConfig, argparse.Namespace]:
    """The command line (``python -m posekit.lift.train --help``) as a :class:`LiftTrainConfig` and the parsed
    arguments (``out``, ``threads``, ``mocap_dir``, ``test_clips``, ``test_subjects`` are used by :func:`main`)."""
    p = argparse.ArgumentParser(prog="python -m posekit.lift.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=("simplebaseline3d", "videopose3d"), required=True)
    p.add_argument("--receptive-field", type=int, default=27, choices=(1, 27, 81, 243))
    p.add_argument("--out", type=Path, required=True, help="output folder (lifter.safetensors + lifter.json)")
    p.add_argument("--steps", type=int, default=3000, help="the training budget (the LR schedule follows it)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="safety stop only: a run stopped early is not the configured one (use --steps)")
    p.add_argument("--cameras", choices=sorted(CAMERA_SETS), default="off-axis",
                   help="virtual cameras: off-axis (realistic intrinsics, person 0-25 deg off-axis) or on-axis "
                        "(before issue #18)")
    p.add_argument("--normalization", choices=("root_scale_ray", "root_scale"), default="root_scale_ray",
                   help="2D input: root_scale_ray (camera-aware, needs intrinsics at inference) or root_scale")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                   help="mirror half the windows left-right")
    p.add_argument("--pose-variety", action=argparse.BooleanOptionalAction, default=True,
                   help="sit / bend / reach draws in the pose augmentation (posekit.threed.pose_augment.VARIETY); "
                        "--no-pose-variety: squats and generic leg offsets only")
    p.add_argument("--noise", action="store_true", help="train on detector-like noisy 2D")
    p.add_argument("--pose-aug", type=float, default=0.5, metavar="P",
                   help="probability per window of bending the 3D pose (posekit.threed.pose_augment); 0: off")
    p.add_argument("--squat-prob", type=float, default=None,
                   help="fraction of pose augmentations that are squats (default 0.25 with --pose-variety, else 0.5)")
    p.add_argument("--channels", type=int, default=None)
    p.add_argument("--windows", type=int, default=32)
    p.add_argument("--frames-per-window", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--mocap-dir", type=Path, default=None, help="folder of the CMU .tar.xz archives")
    p.add_argument("--test-clips", default=",".join(DEFAULT_TEST_CLIPS), help="comma-separated held-out clips")
    p.add_argument("--test-subjects", default=",".join(DEFAULT_TEST_SUBJECTS), help="comma-separated subjects")
    p.add_argument("--h36m-3d", type=Path, default=None, metavar="NPZ",
                   help="also train on your Human3.6M data: VideoPose3D's data_3d_h36m.npz (posekit ships none)")
    p.add_argument("--h36m-subjects", default="S1,S5,S6,S7,S8", help="comma-separated subjects of --h36m-3d")
    a = p.parse_args(argv)
    aug = VARIETY if a.pose_variety else PoseAugment()
    if a.squat_prob is not None:
        aug = dataclasses.replace(aug, squat_prob=a.squat_prob)
    cfg = LiftTrainConfig(model=a.model, receptive_field=a.receptive_field, channels=a.channels, steps=a.steps,
                          max_minutes=a.max_minutes, noise=a.noise, windows=a.windows, pose_aug=a.pose_aug,
                          pose_augment=aug, frames_per_window=a.frames_per_window, lr=a.lr, seed=a.seed,
                          mirror=a.mirror, cameras=CAMERA_SETS[a.cameras], normalization=a.normalization)
    return cfg, a


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (``python -m posekit.lift.train --help``): train, evaluate, save to ``--out``."""
    cfg, a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    clips = load_cmu_clips(mocap_dir=a.mocap_dir)
    tr, te = split_clips(sorted(clips), test_clips=[c for c in a.test_clips.split(",") if c],
                         test_subjects=[s for s in a.test_subjects.split(",") if s])
    train = {c: clips[c] for c in tr}
    if a.h36m_3d is not None:  # world-frame (T, 17, 3) mm clips at 120 fps, Y up, seen by the same virtual cameras
        train.update(h36m_training_clips(load_h36m(a.h36m_3d), [s for s in a.h36m_subjects.split(",") if s]))
    print(f"{len(train)} train clips ({sum(len(v) for v in train.values())} frames at 120 fps), {len(te)} test "
          f"clips: {', '.join(te)}", flush=True)
    train_lifter(train, {c: clips[c] for c in te}, cfg, out=a.out, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
