"""``posekit triangulate``: 3D keypoints of one person filmed by several calibrated cameras.

Input: one JSON-lines file of 2D poses per camera, as ``posekit video --json`` writes them (one
:meth:`posekit.types.FrameResult.to_json` object per line; read by :func:`posekit.lift.io.read_results_jsonl`),
given as ``CAMERA=FILE`` where ``CAMERA`` is a camera name in the ``--cameras`` file
(:func:`posekit.threed.camera_io.load_cameras`: posekit's camera JSON, Human3.6M-style camera JSON or Martinez'
``cameras.h5``). Views are matched by frame index. One person per view and frame: the instance with track id
``--track`` (files written with ``--track``), else the instance with the highest mean keypoint score. Keypoints
that are missing (``null``) or scored below ``--min-score`` do not count for that view; the scores weight the
views (:func:`posekit.threed.triangulate.triangulate_ransac`). The image size in the files, when written, must
match the camera's calibration.

Output (``--out`` folder), in the cameras' world frame and units (millimetres for camera files in mm):

* ``triangulate3d.jsonl``, one object per frame seen by any view: ``{"frame", "time_s", "skeleton",
  "keypoint_names", "unit": "mm", "views": [cameras with a person this frame], "keypoints_3d": (K, 3) or null per
  joint, "reprojection_error_px": (K,) mean over the inlier views, "inliers": (K,) number of views used,
  "inlier_views": (K,) lists of camera names, "status": (K,) "ok" or why the joint has no 3D position}``;
* ``triangulate3d.csv``: ``frame,time_s,joint,x_mm,y_mm,z_mm,reprojection_error_px,inliers,inlier_views,status``
  (``inlier_views`` joined by ``+``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from posekit.cli_common import check_output_dir, fail
from posekit.io.atomic import atomic_destination

__all__ = ["TriangulatedFrames", "parse_views", "triangulate", "triangulate_views", "write_triangulation"]

OUTPUT_NAMES = ("triangulate3d.jsonl", "triangulate3d.csv")


@dataclass(frozen=True, eq=False)
class TriangulatedFrames:
    """Triangulated poses of ``T`` frames with ``K`` joints seen by ``V`` cameras.

    Attributes:
        frames: ``(T,)`` int frame indices (ascending). time_s: ``(T,)`` float seconds (NaN when unknown).
        keypoints_3d: ``(T, K, 3)`` world coordinates (camera units, mm); NaN where ``status != "ok"``.
        errors: ``(T, K)`` mean reprojection error (pixels) over the inlier views. inliers: ``(V, T, K)`` bool.
        seen: ``(V, T)`` bool, the view has a person in the frame. status: ``(T, K)`` str reasons.
        cameras: ``V`` camera names; skeleton: the skeleton's name; keypoint_names: ``K`` names.
    """

    frames: np.ndarray
    time_s: np.ndarray
    keypoints_3d: np.ndarray
    errors: np.ndarray
    inliers: np.ndarray
    seen: np.ndarray
    status: np.ndarray
    cameras: tuple[str, ...]
    skeleton: str
    keypoint_names: tuple[str, ...]


def parse_views(items: Sequence[str]) -> dict[str, Path]:
    """``["cam0=a.jsonl", ...]`` -> ``{"cam0": Path("a.jsonl")}`` (split at the first ``=``); ValueError names the
    bad item (no ``=``, empty name or file, a camera given twice)."""
    views: dict[str, Path] = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise ValueError(f"view {item!r} must be CAMERA=FILE (a camera name of the camera file, then the JSON "
                             "lines of that camera's 2D poses)")
        if name in views:
            raise ValueError(f"camera {name!r} is given twice ({views[name]} and {file})")
        views[name] = Path(file)
    return views


def _pick(poses: Any, track: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(K, 2)`` keypoints and ``(K,)`` scores of the chosen instance, or None when there is none."""
    if len(poses) == 0:
        return None
    if track is None:
        i = int(np.argmax(np.nan_to_num(poses.scores).mean(axis=1)))
    else:
        hits = np.flatnonzero(poses.track_ids == track)
        if not len(hits):
            return None
        i = int(hits[0])
    return poses.keypoints[i].astype(np.float64), np.nan_to_num(poses.scores[i].astype(np.float64))


def triangulate_views(
    views: Mapping[str, Sequence[tuple[int, float | None, Any]]],
    cameras: Mapping[str, Any],
    *,
    track: int | None = None,
    min_score: float = 0.3,
    method: str = "ransac",
    threshold: float | None = None,
    min_angle_deg: float = 15.0,
    files: Mapping[str, Path] | None = None,
) -> TriangulatedFrames:
    """Triangulate per frame. ``views``: camera name -> ``(frame, time_s, Poses)`` records (as
    :func:`posekit.lift.io.read_results_jsonl` returns them); ``cameras``: name -> :class:`Camera`; ``files``: the
    source of each view, for messages. Raises ValueError naming the view on an unknown camera, fewer than two
    views, different skeletons, a missing track id, an image size that differs from the camera's, no frames."""
    from posekit.threed.triangulate import (
        STATUS_REASONS,
        reprojection_error,
        triangulate_dlt,
        triangulate_ransac,
    )

    def where(name: str) -> str:
        return f"{name}={files[name]}" if files and name in files else name

    if len(views) < 2:
        raise ValueError(f"need at least 2 views (CAMERA=FILE), got {len(views)}")
    unknown = [n for n in views if n not in cameras]
    if unknown:
        raise ValueError(f"unknown camera {unknown[0]!r} in {where(unknown[0])}; the camera file has: "
                         + ", ".join(sorted(cameras)))
    if method not in ("ransac", "dlt"):
        raise ValueError(f"method must be 'ransac' or 'dlt', got {method!r}")
    names = tuple(views)
    skeletons = {n: {p.skeleton.name for _, _, p in recs} for n, recs in views.items()}
    found = sorted(set().union(*skeletons.values()))
    if len(found) > 1:
        raise ValueError("the views have different skeletons: " + "; ".join(
            f"{where(n)}: {', '.join(sorted(s)) or 'no frames'}" for n, s in skeletons.items())
            + " (give every camera's poses in one skeleton, e.g. posekit video --coco17)")
    if not found:
        raise ValueError("no frames in any view")
    sk = next(p.skeleton for recs in views.values() for _, _, p in recs)
    for n, recs in views.items():
        size = next((p.image_size for _, _, p in recs if p.image_size is not None), None)
        if size is not None and tuple(size) != tuple(cameras[n].image_size):
            raise ValueError(f"{where(n)}: the poses are in {size[0]}x{size[1]} images but camera {n!r} is calibrated "
                             f"for {cameras[n].image_size[0]}x{cameras[n].image_size[1]}")
        if track is not None and any(p.track_ids is None for _, _, p in recs):
            raise ValueError(f"{where(n)}: --track {track} needs track ids (write the poses with posekit video "
                             "--track)")
    frames = np.array(sorted({f for recs in views.values() for f, _, _ in recs}), dtype=np.int64)
    row = {int(f): i for i, f in enumerate(frames)}
    V, T, K = len(names), len(frames), sk.num_keypoints
    pts = np.full((V, T, K, 2), np.nan)
    w = np.zeros((V, T, K))
    time_s = np.full(T, np.nan)
    seen = np.zeros((V, T), bool)
    for v, n in enumerate(names):
        for f, t, poses in views[n]:
            if t is not None and np.isnan(time_s[row[f]]):
                time_s[row[f]] = t
            picked = _pick(poses, track)
            if picked is not None:
                seen[v, row[f]] = True
                pts[v, row[f]], w[v, row[f]] = picked
    w = np.where((w >= min_score) & (w > 0) & np.isfinite(pts).all(axis=-1), w, 0.0)
    cams = [cameras[n] for n in names]
    if method == "ransac":
        res = triangulate_ransac(pts, cams, weights=w, threshold=threshold, min_angle_deg=min_angle_deg)
        X, inl, err, status = res.points, res.inliers, res.errors, res.reasons()
    else:
        X = triangulate_dlt(pts, cams, weights=w)
        inl = (w > 0) & np.isfinite(X).all(axis=-1)
        err = reprojection_error(X, pts, cams)
        status = np.where(inl.sum(axis=0) >= 2, STATUS_REASONS[0], STATUS_REASONS[1]).astype(object)
    with np.errstate(invalid="ignore"):
        mean_err = np.where(inl, np.nan_to_num(err), 0.0).sum(axis=0) / inl.sum(axis=0)
    return TriangulatedFrames(frames, time_s, X, mean_err, inl, seen, status, names, sk.name, tuple(sk.keypoints))


def _num(x: float, decimals: int) -> float | None:
    return None if not np.isfinite(x) else round(float(x), decimals)


def _record(r: TriangulatedFrames, t: int, used: list[list[str]]) -> dict:
    """The JSON object of frame row ``t`` (module docstring); ``used``: the inlier camera names per joint."""
    return {
        "frame": int(r.frames[t]), "time_s": _num(r.time_s[t], 4), "skeleton": r.skeleton,
        "keypoint_names": list(r.keypoint_names), "unit": "mm",
        "views": [c for v, c in enumerate(r.cameras) if r.seen[v, t]],
        "keypoints_3d": [None if not np.isfinite(p).all() else [_num(c, 2) for c in p] for p in r.keypoints_3d[t]],
        "reprojection_error_px": [_num(e, 3) for e in r.errors[t]],
        "inliers": [len(u) for u in used], "inlier_views": used, "status": [str(s) for s in r.status[t]],
    }


def write_triangulation(out: Path, result: TriangulatedFrames) -> list[Path]:
    """Write ``triangulate3d.jsonl`` and ``triangulate3d.csv`` (module docstring) into ``out`` (created),
    atomically. Returns the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    jpath, cpath = out / OUTPUT_NAMES[0], out / OUTPUT_NAMES[1]
    r = result
    used = [[[c for v, c in enumerate(r.cameras) if r.inliers[v, t, k]] for k in range(len(r.keypoint_names))]
            for t in range(len(r.frames))]
    with atomic_destination(jpath) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(_record(r, t, used[t])) + "\n" for t in range(len(r.frames)))
    with atomic_destination(cpath) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "joint", "x_mm", "y_mm", "z_mm", "reprojection_error_px", "inliers",
                    "inlier_views", "status"])
        for t, frame in enumerate(r.frames):
            for k, joint in enumerate(r.keypoint_names):
                xyz = ["" if not np.isfinite(c) else f"{c:.2f}" for c in r.keypoints_3d[t, k]]
                e = r.errors[t, k]
                w.writerow([int(frame), "" if np.isnan(r.time_s[t]) else f"{r.time_s[t]:.4f}", joint, *xyz,
                            "" if not np.isfinite(e) else f"{e:.3f}", len(used[t][k]), "+".join(used[t][k]),
                            r.status[t, k]])
    return [jpath, cpath]


def triangulate(
    views: Annotated[list[str], typer.Argument(
        help="CAMERA=FILE per camera: a camera name of --cameras and the JSON lines of its 2D poses (`posekit "
             "video --json`), e.g. cam0=cam0.jsonl cam1=cam1.jsonl.", show_default=False)],
    cameras: Annotated[Path, typer.Option(
        "--cameras", "-c", help="Camera file: posekit JSON {\"cameras\": [{name, image_size, K, R, t (mm), "
                                "dist}]}, Human3.6M-style camera JSON, or Martinez' cameras.h5.",
        show_default=False)],
    out: Annotated[Path, typer.Option(help="Output folder: triangulate3d.jsonl and triangulate3d.csv.")] = Path(
        "posekit-triangulate"),
    track: Annotated[Optional[int], typer.Option(
        help="Use the person with this track id in every view (files from `posekit video --track`); default: "
             "the person with the highest mean keypoint score in each view and frame.")] = None,
    min_score: Annotated[float, typer.Option(help="Keypoints scored below this are missing in that view.")] = 0.3,
    method: Annotated[str, typer.Option(help="ransac (robust to wrong views) or dlt (all views).")] = "ransac",
    threshold: Annotated[Optional[float], typer.Option(
        help="RANSAC inlier threshold in pixels; default: 4 x the 2D noise estimated from the data, kept within "
             "1 px and 3% of the image's larger side.")] = None,
    min_angle: Annotated[float, typer.Option(
        help="RANSAC: two views alone triangulate a joint only when their rays meet at this angle (degrees) to "
             "180 minus it; lower it for cameras close together.")] = 15.0,
    subject: Annotated[Optional[str], typer.Option(
        help="Human3.6M-style camera JSON with one subject's {id: camera}: name the cameras SUBJECT/ID.")] = None,
) -> None:
    """Triangulate one person's 2D keypoints from several calibrated cameras into 3D (world frame, mm).

    Views are matched by frame index; a joint needs two cameras that agree (its status says why it has no 3D
    position). Bad lines are reported with their line number and skipped (exit code 1).
    """
    from posekit.lift.io import read_results_jsonl
    from posekit.threed.camera_io import load_cameras

    check_output_dir(out, "--out")
    try:
        files = parse_views(views)
    except ValueError as exc:
        fail(str(exc))
    if len(files) < 2:
        fail(f"need at least 2 views (CAMERA=FILE), got {len(files)}")
    try:
        cams = load_cameras(cameras, subject=subject)
    except (OSError, ValueError) as exc:
        fail(f"--cameras: {exc}")
    unknown = [n for n in files if n not in cams]
    if unknown:
        fail(f"unknown camera {unknown[0]!r} in {unknown[0]}={files[unknown[0]]}; {cameras} has: "
             + ", ".join(sorted(cams)))
    records: dict[str, list] = {}
    bad_lines = 0
    for name, path in files.items():
        try:
            recs, errors = read_results_jsonl(path)
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{name}={path}: cannot read: {exc}")
        for msg in errors:
            typer.echo(f"posekit: skipping {msg}", err=True)
        if not recs:
            fail(f"{name}={path}: no valid line" + (f" ({errors[0]})" if errors else " (empty file)"))
        bad_lines += len(errors)
        records[name] = recs
    try:
        result = triangulate_views(records, cams, track=track, min_score=min_score, method=method,
                                   threshold=threshold, min_angle_deg=min_angle, files=files)
    except ValueError as exc:
        fail(str(exc))
    paths = write_triangulation(out, result)
    ok = result.status == "ok"
    typer.echo(f"triangulated {len(result.frames)} frame(s) x {len(result.keypoint_names)} joint(s) of "
               f"{result.skeleton} from {len(files)} camera(s): {ok.mean():.0%} of the joints in 3D, mean "
               f"reprojection error {np.nanmean(result.errors[ok]) if ok.any() else float('nan'):.2f} px; wrote "
               + ", ".join(str(p) for p in paths))
    if bad_lines:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover - `python -m posekit.cli_triangulate` until cli.py registers it
    typer.run(triangulate)
