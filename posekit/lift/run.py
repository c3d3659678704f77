"""``posekit lift``: 2D results (JSON lines) -> lifted 3D tracks -> JSON, CSV, figure, optional animation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.lift.io import animate_lift, plot_lift_frames, read_results_jsonl, write_lift_csv, write_lift_json
from posekit.lift.pipeline import collect_tracks, interpolate_missing
from posekit.models.lifters.normalize import CameraIntrinsics

__all__ = ["LiftInputError", "LiftReport", "lift_results_file"]


class LiftInputError(ValueError):
    """Nothing in the input can be lifted (no valid line, no person, no such track)."""


@dataclass(frozen=True)
class LiftReport:
    """What :func:`lift_results_file` wrote: ``tracks`` lifted, total ``frames``, ``files`` written and the
    ``errors`` (skipped lines / tracks; non-empty means a partial result)."""

    tracks: int
    frames: int
    files: tuple[Path, ...]
    errors: tuple[str, ...]


def lift_results_file(results: Path, lifter: Any, *, out: Path, track: str = "longest", min_score: float = 0.3,
                      animation: bool = False, model: str | None = None, weights: Path | None = None,
                      intrinsics: CameraIntrinsics | None = None, warn: Callable[[str], None] = print) -> LiftReport:
    """Lift the tracks of a ``posekit video --json`` file with ``lifter`` (a
    :class:`posekit.lift.pipeline.Lifter`) and write ``out/lift3d.{json,csv,png}`` (+ animation).

    ``model`` and ``weights`` (as given on the command line) are recorded in ``lift3d.json``; when ``None`` the
    lifter's own (``lifter.metadata``: the default official checkpoint) are. ``track``: ``"longest"`` (most
    frames), ``"all"`` or a track id. Bad lines and unliftable tracks are passed to
    ``warn`` and listed in the report; :class:`LiftInputError` when nothing can be lifted. ``intrinsics``: the
    camera for camera-aware (``root_scale_ray``) lifters (default: a 60 deg field of view across the longer side of
    the results' ``image_size``, principal point at the centre); the focal length and principal point used are
    recorded in ``lift3d.json``. A ValueError names what is missing (e.g. no image size and no intrinsics).
    """
    frames, errors = read_results_jsonl(results)
    for message in errors:
        warn(message)
    if not frames:
        raise LiftInputError(f"no valid line in {results}")
    tracks = collect_tracks(frames, min_score=min_score) if any(len(p) for _, _, p in frames) else []
    if track not in ("longest", "all"):
        if not track.lstrip("-").isdigit():
            raise LiftInputError(f"--track must be longest, all or a track id, got {track!r}")
        tracks = [t for t in tracks if t.track_id == int(track)]
    elif track == "longest":
        tracks = tracks[:1]
    if not tracks:
        raise LiftInputError(f"no person to lift in {results}"
                             + ("" if track in ("longest", "all") else f" with track id {track}"))
    size = next((p.image_size for _, _, p in frames if p.image_size is not None), None)
    camera = None
    if getattr(lifter, "camera_aware", False):
        try:
            f, c = (intrinsics or CameraIntrinsics()).resolve(size)
        except ValueError as exc:
            raise LiftInputError(f"{results}: {exc} (the results have no image_size: pass --focal and "
                                 "--principal-point)") from None
        camera = {"focal_length": f.tolist(), "principal_point": c.tolist(),
                  "source": "given" if intrinsics is not None and (intrinsics.focal_length or intrinsics.fov_deg)
                  else "default field of view (60 deg across the longer image side)"}
        intrinsics = CameraIntrinsics(focal_length=tuple(f), principal_point=tuple(c))
    lifted = []
    for t in tracks:
        try:
            k2d = interpolate_missing(t.keypoints)
        except ValueError as exc:
            warn(f"track {t.track_id}: {exc}")
            errors.append(f"track {t.track_id}")
            continue
        lifted.append({"track_id": t.track_id, "frames": t.frames, "time_s": t.times, "observed": t.observed,
                       "keypoints_3d": lifter.lift(k2d, image_size=size, intrinsics=intrinsics)
                       if camera is not None else lifter.lift(k2d, image_size=size),
                       "keypoints_2d": k2d, "scores": t.scores})
    if not lifted:
        raise LiftInputError("no track could be lifted")
    model = model if model is not None else lifter.metadata.get("model")  # the default lifter, when used
    weights = weights if weights is not None else lifter.metadata.get("weights")
    info = {"model": model, "weights": None if weights is None else str(weights),
            "normalization": lifter.normalization, "receptive_field": lifter.receptive_field, "camera": camera}
    write_lift_json(out / "lift3d.json", lifted, lifter=info)
    write_lift_csv(out / "lift3d.csv", lifted)
    main_track = lifted[0]
    title = f"{results.name}: track {main_track['track_id']}, {lifter.name}"
    files = [out / "lift3d.json", out / "lift3d.csv",
             plot_lift_frames(out / "lift3d.png", main_track["keypoints_3d"], main_track["frames"],
                              keypoints_2d=main_track["keypoints_2d"], title=title)]
    if animation:
        dt = np.diff(main_track["time_s"])
        fps = 1.0 / float(np.nanmedian(dt)) if np.isfinite(dt).any() and np.nanmedian(dt) > 0 else 30.0
        files.append(animate_lift(out / "lift3d", main_track["keypoints_3d"], main_track["frames"], fps=fps))
    return LiftReport(len(lifted), sum(len(t["frames"]) for t in lifted), tuple(files), tuple(errors))
