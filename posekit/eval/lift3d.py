"""Evaluate a 2D -> 3D lifter on Human3.6M-style data with VideoPose3D's protocol -> a JSON-able report.

Protocol (VideoPose3D ``run.py``, ground-truth or detected 2D from the given file): every frame of every
(subject, action, camera) sequence of the test subjects (default S9, S11; all 4 cameras), all 17 ``h36m17`` joints,
the 2D cut to the 3D length. Each sequence is lifted whole by ``lifter.lift(keypoints2d, **lift_kwargs(camera))``
(a :class:`posekit.lift.pipeline.Lifter`: (T, 17, 2) pixels -> (T, 17, 3) mm, root-relative camera frame). The
ground truth is the world joints in that camera's frame, made pelvis-relative (``gt - gt[:, :1]``; the prediction
likewise, so the root joint counts with error 0, as VideoPose3D's ``inputs_3d[:, :, 0] = 0``).

Errors (:mod:`posekit.metrics.mpjpe`, millimetres): MPJPE (protocol 1), P-MPJPE (protocol 2, per-frame similarity
alignment) and N-MPJPE (per-frame scale). Per action (:func:`~posekit.data.h36m.action_group`: ``"Walking 1"`` and
``"Walking"`` pool into ``"Walking"``) the mean is over all joints of all frames of its sequences (frame-weighted,
as VideoPose3D's ``evaluate``); ``action_average`` is the unweighted mean over actions (the number VideoPose3D
prints and papers report) and ``all_frames`` the mean over every frame.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posekit.data.h36m import H36M_TEST_SUBJECTS, H36MData, h36m_sequences, load_h36m
from posekit.io.atomic import atomic_destination
from posekit.metrics.mpjpe import mpjpe, n_mpjpe, p_mpjpe
from posekit.threed.camera_io import load_cameras
from posekit.threed.cameras import Camera

__all__ = ["SupportsLift", "evaluate_lifter_on_h36m", "format_h36m_report", "run_h36m_evaluation"]

_METRICS = (("mpjpe", mpjpe), ("p_mpjpe", p_mpjpe), ("n_mpjpe", n_mpjpe))


class SupportsLift(Protocol):
    """Anything with ``lift(keypoints (T, 17, 2) pixels, **kwargs) -> (T, 17, 3) mm`` (camera frame)."""

    def lift(self, keypoints: Any, **kwargs: Any) -> np.ndarray: ...


def _auto_kwargs(lifter: SupportsLift) -> Callable[[Camera], dict[str, Any]]:
    """``lift`` keyword arguments from the camera, by what ``lifter.lift`` accepts: ``image_size`` (w, h),
    ``focal_length`` ``(fx, fy)`` and ``principal_point`` ``(cx, cy)`` pixels (posekit's camera-aware
    :meth:`~posekit.lift.pipeline.Lifter.lift`), ``camera`` (the :class:`Camera`); ``**kwargs``: ``image_size``."""
    try:
        params = inspect.signature(lifter.lift).parameters
    except (TypeError, ValueError):
        params = {}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    makers = {"image_size": lambda c: c.image_size,
              "focal_length": lambda c: (float(c.K[0, 0]), float(c.K[1, 1])),
              "principal_point": lambda c: (float(c.K[0, 2]), float(c.K[1, 2])), "camera": lambda c: c}
    use = [n for n in makers if n in params] or (["image_size"] if var_kw else [])
    return lambda cam: {n: makers[n](cam) for n in use}


def evaluate_lifter_on_h36m(
    lifter: SupportsLift,
    data: H36MData,
    *,
    cameras: Mapping[str, Camera],
    subjects: Sequence[str] = H36M_TEST_SUBJECTS,
    camera_indices: Sequence[int] = (0, 1, 2, 3),
    lift_kwargs: Callable[[Camera], Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """MPJPE / P-MPJPE / N-MPJPE (mm) of ``lifter`` per action and overall (module docstring for the protocol).

    Args:
        lifter: e.g. :func:`posekit.lift.pipeline.resolve_lifter`'s result.
        data: :func:`posekit.data.h36m.load_h36m` with a 2D file.
        cameras: :func:`posekit.threed.camera_io.load_cameras` output (``"S9/54138969"``, ...).
        subjects, camera_indices: what to evaluate.
        lift_kwargs: keyword arguments for ``lifter.lift`` per camera. Default: those of ``image_size`` (the
            camera's ``(w, h)``), ``focal_length`` / ``principal_point`` (from its ``K``) and ``camera`` that
            ``lifter.lift`` accepts, so camera-aware lifters get the real H36M intrinsics (lens distortion is not
            passed: the 2D of the files is distorted, as real detections are).
        progress: called with one line per sequence.

    Returns:
        ``{"protocol", "subjects", "cameras", "num_sequences", "frames", "per_action": {action: {"mpjpe",
        "p_mpjpe", "n_mpjpe", "frames", "sequences"}}, "action_average": {...}, "all_frames": {...}}`` with
        plain floats / ints / strings (``json.dumps``-able), values in mm.

    Raises:
        ValueError: ``data`` has no 2D, or the lifter returns a wrong shape (the message names the sequence).
        KeyError: unknown subjects or missing cameras (from :func:`~posekit.data.h36m.h36m_sequences`).
    """
    if data.positions_2d is None:
        raise ValueError("data has no 2D keypoints: load it with load_h36m(path_3d, path_2d)")
    seqs = h36m_sequences(data, cameras, subjects=subjects, camera_indices=camera_indices)
    lift_kwargs = _auto_kwargs(lifter) if lift_kwargs is None else lift_kwargs
    if not seqs:
        raise ValueError(f"no sequence to evaluate for subjects {list(subjects)}")
    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    counts: dict[str, int] = {}
    for seq in seqs:
        pred = np.asarray(lifter.lift(np.asarray(seq.keypoints2d, np.float32), **lift_kwargs(seq.camera)),
                          np.float64)
        where = f"{seq.subject}/{seq.action}/camera {seq.camera_index}"
        if pred.shape != seq.joints_camera.shape:
            raise ValueError(f"{where}: the lifter returned shape {pred.shape}, expected {seq.joints_camera.shape} "
                             "(T, 17, 3) mm")
        gt = seq.joints_camera - seq.joints_camera[:, :1]
        groups.setdefault(seq.action_group, []).append((pred - pred[:, :1], gt))
        counts[seq.action_group] = counts.get(seq.action_group, 0) + 1
        if progress is not None:
            progress(f"{where}: {len(seq)} frames, MPJPE {mpjpe(pred - pred[:, :1], gt).value:.1f} mm")
    per_action = {}
    for name in sorted(groups):
        pred = np.concatenate([p for p, _ in groups[name]])
        gt = np.concatenate([g for _, g in groups[name]])
        per_action[name] = {key: float(fn(pred, gt).value) for key, fn in _METRICS}
        per_action[name].update(frames=len(pred), sequences=counts[name])
    pred = np.concatenate([p for g in groups.values() for p, _ in g])
    gt = np.concatenate([t for g in groups.values() for _, t in g])
    return {
        "protocol": "VideoPose3D: every frame, 17 joints (h36m17), pelvis-relative camera frame, mm",
        "subjects": list(subjects),
        "cameras": [int(i) for i in camera_indices],
        "num_sequences": len(seqs),
        "frames": len(pred),
        "per_action": per_action,
        "action_average": {key: float(np.mean([a[key] for a in per_action.values()])) for key, _ in _METRICS},
        "all_frames": {key: float(fn(pred, gt).value) for key, fn in _METRICS},
    }


def format_h36m_report(report: Mapping[str, Any]) -> str:
    """The report of :func:`evaluate_lifter_on_h36m` as a fixed-width table (one row per action, then the
    action average and the all-frames mean)."""
    lines = [f"{'action':14s} {'MPJPE':>7s} {'P-MPJPE':>8s} {'N-MPJPE':>8s} {'frames':>8s}"]
    for name, m in report["per_action"].items():
        lines.append(f"{name:14s} {m['mpjpe']:7.1f} {m['p_mpjpe']:8.1f} {m['n_mpjpe']:8.1f} {m['frames']:8d}")
    for label, key in (("action avg", "action_average"), ("all frames", "all_frames")):
        m = report[key]
        lines.append(f"{label:14s} {m['mpjpe']:7.1f} {m['p_mpjpe']:8.1f} {m['n_mpjpe']:8.1f} "
                     f"{report['frames'] if key == 'all_frames' else '':>8}")
    return "\n".join(lines)


def run_h36m_evaluation(*, ann: str | os.PathLike[str], keypoints2d: str | os.PathLike[str],
                        cameras: str | os.PathLike[str], model: str | None = None,
                        weights: str | os.PathLike[str] | None = None, subjects: Sequence[str] = H36M_TEST_SUBJECTS,
                        out: str | os.PathLike[str] | None = None, device: str = "cpu",
                        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``posekit eval --dataset h36m``: load ``ann`` (``data_3d_h36m.npz``), ``keypoints2d`` (``data_2d_h36m_gt.npz``
    or the CPN file) and ``cameras`` (any :func:`~posekit.threed.camera_io.load_cameras` format), resolve the lifter
    as ``posekit lift`` does (:func:`posekit.lift.pipeline.resolve_lifter`: ``model`` and/or ``weights``), evaluate
    (:func:`evaluate_lifter_on_h36m`) and, with ``out``, write ``OUT/report.json`` (atomic). The report also holds
    ``"lifter"``, ``"files"`` and, with ``out``, ``"report"`` (the written path)."""
    # torch and the model zoo only when evaluating
    from posekit.lift.pipeline import resolve_lifter

    data = load_h36m(ann, keypoints2d)
    cams = load_cameras(cameras)
    lifter = resolve_lifter(model, weights, device=device, progress=progress is not None)
    report = evaluate_lifter_on_h36m(lifter, data, cameras=cams, subjects=subjects, progress=progress)
    report = {**report, "lifter": getattr(lifter, "name", "") or str(model or weights),
              "files": {"ann": str(ann), "keypoints2d": str(keypoints2d), "cameras": str(cameras)}}
    if out is not None:
        path = Path(out) / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_destination(path) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n")
        report["report"] = str(path)
    return report
