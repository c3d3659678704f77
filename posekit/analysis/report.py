"""``posekit analyze``: joint angles, repetitions and gait of one person from ``posekit video --json`` results.

Input: JSON lines as :meth:`posekit.types.FrameResult.to_json` writes them (read with
:func:`posekit.lift.io.read_results_jsonl`). One person is analysed: the track id with the most frames
(or the one asked for); without track ids, the best-scoring pose of each frame
(:meth:`~posekit.types.Poses.instance_scores`).

Per frame: the 2D joint angles of :func:`posekit.analysis.angles.pose_angles` (degrees, image pixels) plus the
bilateral means ``knee``, ``hip``, ``elbow`` (these drop during squats, push-ups) and ``shoulder`` (rises during
jumping jacks) -- the *movement signals*. Repetitions are counted on every movement signal with
:func:`~posekit.analysis.repetitions.count_repetitions` (hysteresis, automatic thresholds); the reported count is
the one of the chosen signal: by default the signal with the largest 5-95 % range (the joint the exercise moves
most). Gait measures come from the ankle trajectories (:func:`~posekit.analysis.gait.skeleton_gait`).

Outputs of :func:`write_analysis` in one folder: ``angles.csv`` (one row per frame), ``repetitions.csv`` (one row
per repetition of every signal), ``summary.json``, ``angles.png`` (the chosen signal over time with the
repetitions shaded, their deepest points marked and the hysteresis thresholds dashed; the other angles below)
and ``gait.png`` (ankle distance with the step events).
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.analysis.angles import ANGLES, pose_angles
from posekit.analysis.gait import GaitMeasures, skeleton_gait
from posekit.analysis.repetitions import Repetition, count_repetitions, repetition_thresholds
from posekit.lift.io import read_results_jsonl

__all__ = ["MOVEMENT_SIGNALS", "Analysis", "analyze_results", "write_analysis"]

MOVEMENT_SIGNALS: dict[str, str] = {"knee": "down", "hip": "down", "elbow": "down", "shoulder": "up"}
"""Bilateral mean angles used for repetition counting, with the direction the movement takes them."""


@dataclass(frozen=True)
class Analysis:
    """Angles, repetitions and gait of one person over T frames.

    Attributes:
        source: the results file.
        skeleton: skeleton name of the poses.
        track_id: the analysed track, or ``None`` for untracked results (best pose per frame).
        frames: (T,) int64 frame indices (every frame of the file, in order; the person may be absent).
        time_s: (T,) float64 seconds.
        angles: ``{name: (T,) float64 degrees}``: :func:`~posekit.analysis.angles.pose_angles` names and the
            :data:`MOVEMENT_SIGNALS`; NaN where the person or a joint is missing.
        repetitions: ``{signal: [Repetition, ...]}`` for every movement signal (sample indices into ``frames``).
        signal: the movement signal whose count is reported.
        thresholds: ``{signal: (low, high) or None}`` the hysteresis thresholds used.
        gait: :class:`~posekit.analysis.gait.GaitMeasures` (step events as sample indices into ``frames``).
        ankle_distance: (T,) float64 pixels between the ankles (what the step events are found on).
    """

    source: Path
    skeleton: str
    track_id: int | None
    frames: np.ndarray
    time_s: np.ndarray
    angles: dict[str, np.ndarray]
    repetitions: dict[str, list[Repetition]]
    signal: str
    thresholds: dict[str, tuple[float, float] | None]
    gait: GaitMeasures
    ankle_distance: np.ndarray

    @property
    def repetition_count(self) -> int:
        """Repetitions of the chosen :attr:`signal`."""
        return len(self.repetitions[self.signal])


def _nanmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # both sides missing -> NaN
        return np.nanmean(np.stack([a, b]), axis=0)


def analyze_results(
    jsonl: str | os.PathLike, *, track_id: int | None = None, signal: str = "auto", min_score: float = 0.5,
    fps: float | None = None, min_amplitude: float = 20.0,
) -> Analysis:
    """Analyse one person of a ``posekit video --json`` results file (see the module docstring).

    Args:
        jsonl: the JSON-lines file.
        track_id: the track to analyse (default: the one in most frames).
        signal: ``"auto"`` or one of :data:`MOVEMENT_SIGNALS` (the signal whose repetitions are reported).
        min_score: keypoints scoring below this count as missing (BlazePose scores are visibilities).
        fps: frame rate for files without ``time_s`` (frame ``i`` at ``i / fps`` seconds).
        min_amplitude: degrees; a signal whose 5-95 % range is smaller has no repetitions.

    Raises:
        FileNotFoundError: no such file.
        ValueError: no valid line, bad lines (listed), no such track, unknown ``signal``, or no times.
    """
    if signal != "auto" and signal not in MOVEMENT_SIGNALS:
        raise ValueError(f"signal must be 'auto' or one of {', '.join(MOVEMENT_SIGNALS)}, got {signal!r}")
    path = Path(jsonl)
    frames, errors = read_results_jsonl(path)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; ... ({len(errors)} bad lines)" if len(errors) > 5 else "")
        raise ValueError(f"{path} has lines that are not posekit frame results: {shown}")
    if not frames:
        raise ValueError(f"{path} holds no frame results")
    frames = sorted(frames, key=lambda f: f[0])
    skeletons = {p.skeleton.name for _, _, p in frames}
    if len(skeletons) > 1:
        raise ValueError(f"{path} mixes skeletons {sorted(skeletons)}")
    skeleton = frames[0][2].skeleton
    index = np.array([f for f, _, _ in frames], np.int64)
    if all(t is not None for _, t, _ in frames):
        time_s = np.array([t for _, t, _ in frames], np.float64)
    elif fps is not None:
        time_s = index / float(fps)
    else:
        raise ValueError(f"{path} has frames without time_s; pass fps")

    tracked = any(p.track_ids is not None for _, _, p in frames)
    if tracked:
        counts: dict[int, int] = {}
        for _, _, p in frames:
            for t in set((p.track_ids if p.track_ids is not None else []).tolist()):
                if t >= 0:
                    counts[t] = counts.get(t, 0) + 1
        if track_id is None:
            if not counts:
                raise ValueError(f"{path} has no confirmed track (every track id is -1)")
            track_id = min(counts, key=lambda t: (-counts[t], t))
        elif track_id not in counts:
            raise ValueError(f"track id {track_id} is not in {path}; ids there: {sorted(counts)}")
    elif track_id is not None:
        raise ValueError(f"{path} has no track ids (run `posekit video --track`); cannot select track {track_id}")

    k = skeleton.num_keypoints
    kpts = np.full((len(frames), k, 2), np.nan)
    names = [d.name for d in ANGLES] + ["trunk_lean"]
    angles = {n: np.full(len(frames), np.nan) for n in names}
    for j, (_, _, poses) in enumerate(frames):
        if len(poses) == 0:
            continue
        if tracked:
            hit = np.flatnonzero(poses.track_ids == track_id) if poses.track_ids is not None else []
            if len(hit) == 0:
                continue
            i = int(hit[0])
        else:
            i = int(np.argmax(poses.instance_scores()))
        one = poses[i]
        for n, v in pose_angles(one, min_score=min_score).items():
            angles[n][j] = v[0]
        kpts[j] = np.where(one.scores[0, :, None] >= min_score, one.keypoints[0], np.nan)
    for name in MOVEMENT_SIGNALS:
        angles[name] = _nanmean(angles[f"left_{name}"], angles[f"right_{name}"])

    reps, thresholds = {}, {}
    for name, direction in MOVEMENT_SIGNALS.items():
        thresholds[name] = repetition_thresholds(angles[name], min_amplitude=min_amplitude)
        reps[name] = count_repetitions(angles[name], time_s=time_s, direction=direction, min_amplitude=min_amplitude)
    if signal == "auto":
        signal = max(MOVEMENT_SIGNALS, key=lambda n: _robust_range(angles[n]))
    ankles = [next((skeleton.index(n) for n in (f"{s}_ankle", f"{s}_foot") if n in skeleton.keypoints), None)
              for s in ("left", "right")]
    if None in ankles:  # e.g. hands, faces: no gait
        gait = GaitMeasures(np.zeros(0, np.int64), np.zeros(0), math.nan, math.nan, math.nan)
        ankle_distance = np.full(len(frames), np.nan)
    else:
        gait = skeleton_gait(kpts, skeleton, time_s=time_s)
        ankle_distance = np.linalg.norm(kpts[:, ankles[0]] - kpts[:, ankles[1]], axis=1)
    return Analysis(path, skeleton.name, track_id, index, time_s, angles, reps, signal, thresholds, gait,
                    ankle_distance)


def _robust_range(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return -math.inf
    p5, p95 = np.percentile(x, [5, 95])
    return float(p95 - p5)


def _fmt(v: float, digits: int = 2) -> str:
    return "" if not np.isfinite(v) else f"{v:.{digits}f}"


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def summary(analysis: Analysis) -> dict[str, Any]:
    """JSON-ready summary: the person, the chosen signal and its count, counts per signal, gait measures."""
    a, g = analysis, analysis.gait
    return {
        "source": str(a.source), "skeleton": a.skeleton, "track_id": a.track_id, "frames": int(len(a.frames)),
        "duration_s": float(a.time_s[-1] - a.time_s[0]) if len(a.time_s) else 0.0,
        "signal": a.signal, "direction": MOVEMENT_SIGNALS[a.signal], "repetitions": a.repetition_count,
        "repetitions_per_signal": {n: len(r) for n, r in a.repetitions.items()},
        "gait": {"steps": g.step_count, "cadence_spm": _num(g.cadence_spm),
                 "stance_ratio_left": _num(g.stance_ratio_left), "stance_ratio_right": _num(g.stance_ratio_right),
                 "step_frames": [int(a.frames[i]) for i in g.step_frames]},
    }


def write_analysis(analysis: Analysis, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``angles.csv``, ``repetitions.csv``, ``summary.json``, ``angles.png`` and ``gait.png`` into
    ``out_dir`` (created); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = analysis
    names = list(a.angles)
    with open(out / "angles.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "track_id", *[f"{n}_deg" for n in names]])
        tid = "" if a.track_id is None else a.track_id
        for j, frame in enumerate(a.frames.tolist()):
            w.writerow([frame, f"{a.time_s[j]:.6f}", tid, *[_fmt(a.angles[n][j]) for n in names]])
    with open(out / "repetitions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["signal", "direction", "repetition", "start_frame", "extreme_frame", "end_frame", "start_s",
                    "end_s", "duration_s", "extreme_deg", "reported"])
        for name, reps in a.repetitions.items():
            for n, r in enumerate(reps, 1):
                w.writerow([name, MOVEMENT_SIGNALS[name], n, int(a.frames[r.start]), int(a.frames[r.extreme]),
                            int(a.frames[r.end]), f"{r.start_s:.4f}", f"{r.end_s:.4f}", f"{r.duration_s:.4f}",
                            f"{r.depth:.2f}", int(name == a.signal)])
    (out / "summary.json").write_text(json.dumps(summary(a), indent=2) + "\n", encoding="utf-8")
    return [out / "angles.csv", out / "repetitions.csv", out / "summary.json", _plot_angles(a, out / "angles.png"),
            _plot_gait(a, out / "gait.png")]


def _figure(rows: int, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(8, height), dpi=100, layout="constrained")
    return fig, fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]


def _plot_angles(a: Analysis, path: Path) -> Path:
    fig, (top, bottom) = _figure(2, 5.5)
    t, s = a.time_s, a.angles[a.signal]
    top.plot(t, s, color="tab:blue", lw=1.8, label=f"{a.signal} angle (mean of left and right)")
    for n, r in enumerate(a.repetitions[a.signal], 1):
        top.axvspan(r.start_s, r.end_s, color="tab:orange", alpha=0.2, lw=0)
        top.plot(t[r.extreme], r.depth, "v" if MOVEMENT_SIGNALS[a.signal] == "down" else "^", color="tab:red", ms=8)
        top.annotate(f"rep {n}", (t[r.extreme], r.depth), textcoords="offset points", xytext=(6, -4), fontsize=9)
    thr = a.thresholds[a.signal]
    if thr is not None:
        for v in thr:
            top.axhline(v, color="gray", ls="--", lw=0.8)
    who = "best pose per frame" if a.track_id is None else f"track {a.track_id}"
    top.set_title(f"{a.source.name} ({who}): {a.repetition_count} repetition(s) of the {a.signal} angle")
    top.set_ylabel("degrees")
    top.legend(loc="lower left", fontsize=8)
    for name in ("knee", "hip", "elbow", "shoulder", "trunk_lean"):
        bottom.plot(t, a.angles[name], lw=1.2, label=name)
    bottom.set_ylabel("degrees")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="center right", fontsize=8, ncol=5)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.savefig(path)
    return path


def _plot_gait(a: Analysis, path: Path) -> Path:
    fig, (ax,) = _figure(1, 3.0)
    ax.plot(a.time_s, a.ankle_distance, color="tab:green", lw=1.5, label="ankle distance (px)")
    g = a.gait
    if g.step_count:
        ax.plot(g.step_times_s, a.ankle_distance[g.step_frames], "o", color="tab:red", label="step events")
    cadence = "n/a" if not np.isfinite(g.cadence_spm) else f"{g.cadence_spm:.0f} steps/min"
    ax.set_title(f"gait: {g.step_count} step(s), cadence {cadence}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pixels")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path)
    return path
