"""The tables ``posekit batch`` writes (Apache Arrow schemas, stored as Parquet).

* :data:`POSES_SCHEMA`: one row per person per image or video frame. ``keypoints`` holds K ``x, y`` pairs
  flattened (``x0, y0, x1, y1, ...``; image pixels of the source, x right, y down, origin at the top-left pixel's
  corner; NaN for a missing keypoint), ``scores`` K values in [0, 1], ``box`` ``x1, y1, x2, y2`` pixels,
  ``keypoints_3d`` K ``x, y, z`` flattened in the model's 3D frame (BlazePose: metres, hip-centred) or null.
  Images have ``frame`` 0 and ``time_s`` null; ``track_id`` is null without tracking (and -1 while a track is
  tentative).
* :data:`ERRORS_SCHEMA`: one row per input (or video frame range) that failed: the file, the frame where a video
  stopped (else null), the stage (``read``, ``predict``), the exception type and a message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from posekit.types import Poses

__all__ = ["ERRORS_SCHEMA", "POSES_SCHEMA", "errors_table", "pose_rows", "poses_table"]

_F32 = pa.list_(pa.float32())
POSES_SCHEMA = pa.schema([
    ("file", pa.string()), ("frame", pa.int32()), ("time_s", pa.float64()), ("instance", pa.int32()),
    ("track_id", pa.int32()), ("keypoints", _F32), ("scores", _F32), ("box", pa.list_(pa.float32(), 4)),
    ("box_score", pa.float32()), ("score", pa.float32()), ("keypoints_3d", _F32), ("skeleton", pa.string()),
    ("model", pa.string()),
])
ERRORS_SCHEMA = pa.schema([
    ("file", pa.string()), ("frame", pa.int32()), ("stage", pa.string()), ("error", pa.string()),
    ("message", pa.string()),
])


def pose_rows(file: str, frame: int, time_s: float | None, poses: Poses, model: str) -> list[dict[str, Any]]:
    """The rows of one image or frame (none when nobody was found)."""
    rows = []
    person = poses.instance_scores()
    for i in range(len(poses)):
        tid = None if poses.track_ids is None else int(poses.track_ids[i])
        k3d = None if poses.keypoints_3d is None else poses.keypoints_3d[i].astype(np.float32).ravel().tolist()
        rows.append({
            "file": file, "frame": int(frame), "time_s": time_s, "instance": i, "track_id": tid,
            "keypoints": poses.keypoints[i].astype(np.float32).ravel().tolist(),
            "scores": poses.scores[i].astype(np.float32).tolist(),
            "box": poses.boxes[i].astype(np.float32).tolist(), "box_score": float(poses.box_scores[i]),
            "score": float(person[i]), "keypoints_3d": k3d, "skeleton": poses.skeleton.name, "model": model,
        })
    return rows


def poses_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of :func:`pose_rows` as a table of :data:`POSES_SCHEMA` (an empty table for no rows)."""
    return pa.Table.from_pylist(rows, schema=POSES_SCHEMA)


def errors_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Error rows (``file``, ``frame``, ``stage``, ``error``, ``message``) as a table of :data:`ERRORS_SCHEMA`."""
    return pa.Table.from_pylist(rows, schema=ERRORS_SCHEMA)
