"""Files of ``posekit lift``: read 2D results (JSON lines), write 3D results (JSON, CSV), draw 3D skeletons.

Input: one JSON object per line, as :meth:`posekit.types.FrameResult.to_json` writes it (``posekit video --json``):
``{"frame": i, "time_s": t, "skeleton": "blazepose33", "keypoints": [[[x, y], ...], ...], "scores": [[...]],
"track_ids": [...] | null, "boxes": ..., "image_size": [w, h], ...}``; ``keypoints`` (N, K, 2) image pixels with
``null`` for missing values; ``scores``, ``boxes``, ``track_ids``, ``image_size`` and ``time_s`` may be absent.

Output (all in millimetres, root-relative camera frame: x right, y down, z away from the camera, pelvis at 0):

* JSON (:func:`write_lift_json`): ``{"format": "posekit-lift/1", "skeleton": "h36m17", "keypoint_names", "unit",
  "frame", "lifter", "tracks": [{"track_id", "frames", "time_s", "observed", "keypoints_3d" (T, 17, 3),
  "keypoints_2d" (T, 17, 2) h36m17 pixels as lifted (gaps interpolated), "scores" (T, 17)}]}``;
* CSV (:func:`write_lift_csv`), one row per track, frame and joint:
  ``track_id,frame,time_s,observed,joint,x_mm,y_mm,z_mm,score``;
* a figure of a few frames seen from the camera and from the side (:func:`plot_lift_frames`), and an
  animation (:func:`animate_lift`: MP4 through matplotlib's ffmpeg writer when ffmpeg is installed, else GIF).

Plots show the camera frame turned to "z up": horizontal x, depth z, height -y.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit import skeletons
from posekit.io.atomic import atomic_destination
from posekit.skeletons import Skeleton, h36m17
from posekit.types import Poses

__all__ = ["read_results_jsonl", "write_lift_json", "write_lift_csv", "plot_lift_frames", "animate_lift"]


def _skeleton(name: Any) -> Skeleton:
    sk = skeletons.named(name)
    if sk is None:
        raise ValueError(f"unknown skeleton {name!r}")
    return sk


def _frame(obj: Any) -> tuple[int, float | None, Poses]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("frame", "skeleton", "keypoints"):
        if key not in obj:
            raise ValueError(f"missing key {key!r}")
    frame = obj["frame"]
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise ValueError(f"'frame' must be a non-negative integer, got {frame!r}")
    sk = _skeleton(obj["skeleton"])
    kpts = np.array(obj["keypoints"], dtype=np.float64) if obj["keypoints"] else np.zeros((0, sk.num_keypoints, 2))
    if kpts.ndim != 3 or kpts.shape[1:] != (sk.num_keypoints, 2):
        raise ValueError(f"'keypoints' must have shape (N, {sk.num_keypoints}, 2) for {sk.name}, got {kpts.shape}")
    n = len(kpts)
    scores = np.ones(kpts.shape[:2]) if obj.get("scores") is None else np.array(obj["scores"], dtype=np.float64)
    if scores.size == 0:
        scores = scores.reshape(0, sk.num_keypoints)
    if scores.shape != kpts.shape[:2]:
        raise ValueError(f"'scores' must have shape {kpts.shape[:2]} to match keypoints, got {scores.shape}")
    boxes = obj.get("boxes")
    if boxes is None or n == 0:  # not written by every producer: the keypoints' extent
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN instances
            ext = np.concatenate([np.nanmin(kpts, axis=1), np.nanmax(kpts, axis=1)], axis=1)
        boxes = np.nan_to_num(ext)
    track_ids = obj.get("track_ids")
    size = obj.get("image_size")
    time_s = obj.get("time_s")
    if time_s is not None and not isinstance(time_s, (int, float)):
        raise ValueError(f"'time_s' must be a number or null, got {time_s!r}")
    poses = Poses(kpts, np.nan_to_num(scores), boxes, sk, track_ids=track_ids,
                  image_size=None if size is None else tuple(size))
    return frame, None if time_s is None else float(time_s), poses


def read_results_jsonl(path: str | os.PathLike[str]) -> tuple[list[tuple[int, float | None, Poses]], list[str]]:
    """Parse a JSON-lines file of per-frame 2D results.

    Returns:
        ``(frames, errors)``: ``(frame_index, time_s, poses)`` of every good line in file order, and one message
        ``"PATH:LINE: reason"`` per bad line (blank lines are ignored; a repeated frame index is an error).
    Raises FileNotFoundError when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    frames, errors, seen = [], [], set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = _frame(json.loads(line))
                if rec[0] in seen:
                    raise ValueError(f"frame {rec[0]} appears twice")
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except (ValueError, TypeError) as exc:
                errors.append(f"{path}:{lineno}: {exc}")
                continue
            seen.add(rec[0])
            frames.append(rec)
    return frames, errors


def _lists(a: np.ndarray, decimals: int) -> list:
    return np.where(np.isnan(a), None, np.round(a.astype(np.float64), decimals).astype(object)).tolist()


def write_lift_json(path: str | os.PathLike[str], tracks: Sequence[Mapping[str, Any]], *,
                    lifter: Mapping[str, Any]) -> Path:
    """Write the 3D results (module docstring) atomically. ``tracks``: dicts with ``track_id``, ``frames`` (T,),
    ``time_s`` (T,), ``observed`` (T,), ``keypoints_3d`` (T, 17, 3) mm, ``keypoints_2d`` (T, 17, 2), ``scores``
    (T, 17); ``lifter``: a JSON-ready description of the lifter."""
    doc = {
        "format": "posekit-lift/1", "skeleton": h36m17.name, "keypoint_names": list(h36m17.keypoints), "unit": "mm",
        "frame": "root-relative camera frame: x right, y down, z away from the camera; root (pelvis) = 0",
        "lifter": dict(lifter),
        "tracks": [{
            "track_id": int(t["track_id"]), "frames": np.asarray(t["frames"]).astype(int).tolist(),
            "time_s": _lists(np.asarray(t["time_s"], np.float64), 4),
            "observed": np.asarray(t["observed"]).astype(bool).tolist(),
            "keypoints_3d": _lists(np.asarray(t["keypoints_3d"]), 2),
            "keypoints_2d": _lists(np.asarray(t["keypoints_2d"]), 2),
            "scores": _lists(np.asarray(t["scores"]), 4),
        } for t in tracks],
    }
    with atomic_destination(Path(path)) as tmp:
        tmp.write_text(json.dumps(doc) + "\n")
    return Path(path)


def write_lift_csv(path: str | os.PathLike[str], tracks: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``track_id,frame,time_s,observed,joint,x_mm,y_mm,z_mm,score`` rows (same ``tracks`` as
    :func:`write_lift_json`) atomically."""
    with atomic_destination(Path(path)) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["track_id", "frame", "time_s", "observed", "joint", "x_mm", "y_mm", "z_mm", "score"])
        for t in tracks:
            k3d, sc = np.asarray(t["keypoints_3d"]), np.asarray(t["scores"])
            for i, frame in enumerate(np.asarray(t["frames"])):
                ts = float(t["time_s"][i])
                for j, name in enumerate(h36m17.keypoints):
                    w.writerow([int(t["track_id"]), int(frame), "" if math.isnan(ts) else f"{ts:.4f}",
                                int(bool(t["observed"][i])), name, *(f"{v:.2f}" for v in k3d[i, j]),
                                f"{float(sc[i, j]):.4f}"])
    return Path(path)


def _upright(k3d: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> plot frame (x, depth z, height -y)."""
    return np.stack([k3d[..., 0], k3d[..., 2], -k3d[..., 1]], axis=-1)


def _draw(ax: Any, pose: np.ndarray, lim: float) -> None:
    for a, b in h36m17.links:  # subject's left blue, right red, centre grey
        names = h36m17.keypoints[a] + h36m17.keypoints[b]
        color = "tab:blue" if "left" in names else "tab:red" if "right" in names else "tab:gray"
        ax.plot(*pose[[a, b]].T, color=color, lw=2)
    ax.scatter(*pose.T, s=6, color="k")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim), xlabel="x", ylabel="z (depth)", zlabel="up")
    ax.set_box_aspect((1, 1, 1))
    ax.tick_params(labelsize=6)


def plot_lift_frames(path: str | os.PathLike[str], keypoints_3d: np.ndarray, frames: Sequence[int], *,
                     keypoints_2d: np.ndarray | None = None, num: int = 6, title: str = "") -> Path:
    """Save a PNG of ``num`` evenly spaced poses of (T, 17, 3) mm camera-frame ``keypoints_3d`` (frame numbers
    ``frames``): the 3D pose seen from the camera and from 90 degrees to the side, and, when given, the
    (T, 17, 2) h36m17 pixel input ``keypoints_2d`` in a first row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k3d = _upright(np.asarray(keypoints_3d, np.float64))
    pick = np.unique(np.linspace(0, len(k3d) - 1, min(num, len(k3d))).round().astype(int))
    lim = float(np.nanmax(np.abs(k3d))) * 1.05 if np.isfinite(k3d).any() else 1000.0
    rows = 2 if keypoints_2d is None else 3
    fig = Figure(figsize=(2.6 * len(pick), 2.8 * rows))
    FigureCanvasAgg(fig)
    for col, i in enumerate(pick):
        if keypoints_2d is not None:
            k2d = np.asarray(keypoints_2d, np.float64)
            ax = fig.add_subplot(rows, len(pick), col + 1)
            for a, b in h36m17.links:
                ax.plot(*k2d[i, [a, b]].T, color="tab:gray", lw=2)
            ax.set(xlim=(np.nanmin(k2d[..., 0]) - 20, np.nanmax(k2d[..., 0]) + 20),
                   ylim=(np.nanmax(k2d[..., 1]) + 20, np.nanmin(k2d[..., 1]) - 20), aspect="equal")
            ax.set_title(f"frame {int(frames[i])}, 2D input (px)", fontsize=8)
            ax.tick_params(labelsize=6)
        for row, (elev, azim, view) in enumerate(((5, -90, "camera view"), (5, 0, "side view")), rows - 2):
            ax = fig.add_subplot(rows, len(pick), row * len(pick) + col + 1, projection="3d")
            _draw(ax, k3d[i], lim)
            ax.view_init(elev=elev, azim=azim)
            ax.set_title(f"frame {int(frames[i])}, {view}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def animate_lift(path: str | os.PathLike[str], keypoints_3d: np.ndarray, frames: Sequence[int], *,
                 fps: float = 30.0, max_frames: int = 300) -> Path:
    """Animate (T, 17, 3) mm poses: ``path.with_suffix('.mp4')`` with ffmpeg when matplotlib finds it, else
    ``path.with_suffix('.gif')`` (pillow). At most ``max_frames`` frames (evenly subsampled). Returns the file."""
    from matplotlib import animation
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k3d = _upright(np.asarray(keypoints_3d, np.float64))
    step = max(1, math.ceil(len(k3d) / max_frames))
    idx = np.arange(0, len(k3d), step)
    lim = float(np.nanmax(np.abs(k3d))) * 1.05 if np.isfinite(k3d).any() else 1000.0
    fig = Figure(figsize=(6, 3.2))
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, 2, i + 1, projection="3d") for i in range(2)]

    def update(n: int) -> list:
        for ax, (elev, azim) in zip(axes, ((5, -90), (5, 0))):
            ax.cla()
            _draw(ax, k3d[idx[n]], lim)
            ax.view_init(elev=elev, azim=azim)
        fig.suptitle(f"frame {int(frames[idx[n]])}", fontsize=9)
        return []

    anim = animation.FuncAnimation(fig, update, frames=len(idx), blit=False)
    fps_out = max(1.0, fps / step)
    if animation.writers.is_available("ffmpeg"):
        out, writer = Path(path).with_suffix(".mp4"), animation.FFMpegWriter(fps=fps_out)
    else:
        out, writer = Path(path).with_suffix(".gif"), animation.PillowWriter(fps=fps_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    anim.save(str(out), writer=writer, dpi=70)
    return out
