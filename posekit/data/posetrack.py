"""PoseTrack18 video annotations -> :class:`~posekit.data.sample.PoseSample` list (one sample per person per frame).

PoseTrack18 ships one COCO-format JSON per video (``annotations/val/012834_mpii_test.json``; MMPose also merges
them into one file). Its 17 keypoints are COCO's with the eyes replaced by ``head_bottom`` and ``head_top``
(``nose, head_bottom, head_top, left_ear, right_ear, left_shoulder, ...``); the skeleton is built from the file's
category (:func:`~posekit.data.coco.skeleton_from_category`) and named ``"posetrack18"``. PoseTrack18 marks
keypoints only as labelled (1) or not (0), so every labelled keypoint has ``visible`` 1; the ears are never
labelled in practice.

Per sample ``meta`` (besides the COCO ones of :func:`~posekit.data.coco.load_coco_keypoints`):

* ``track_id`` (int): the person's identity within the video.
* ``video_id`` (str, ``vid_id``), ``frame_id`` (int, PoseTrack's global id ``1VVVVVVFFFF``), ``frame_index``
  (int, the frame's position in the video: the image file's numeric stem), ``num_frames`` (``nframes``).
* ``head_box`` ((4,) float32 xyxy pixels, from ``bbox_head`` ``[x, y, w, h]``) and ``head_size``: 0.6 x the head
  box diagonal, the PCKh normaliser of PoseTrack's evaluation (poseval), absent when the annotation has no head box.
* ``ignore_regions``: the image's ignore polygons as a tuple of (M, 2) float32 pixel arrays (possibly empty).

``image_dir`` is the dataset root (``file_name`` is ``images/val/<video>/<frame>.jpg``).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.coco import parse_coco_keypoints
from posekit.data.sample import LoadReport, PoseSample, SkippedRecord

__all__ = ["load_posetrack18"]

_IMAGE_KEYS = ("vid_id", "frame_id", "nframes", "file_name", "ignore_regions_x", "ignore_regions_y")


def load_posetrack18(
    ann_path: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    min_keypoints: int = 1,
    check_images: bool = True,
) -> tuple[list[PoseSample], LoadReport]:
    """Load one PoseTrack18 JSON file, or every ``*.json`` in a folder (one per video, sorted by name).

    Args:
        ann_path: a JSON file or a folder of them.
        image_dir: the dataset root the images' ``file_name`` is relative to; ``None`` = no image paths or checks.
        min_keypoints: annotations with fewer labelled keypoints are skipped (``too_few_keypoints``).
        check_images: with ``image_dir``, skip annotations whose image file is missing (``missing_image``).

    Returns:
        ``(samples, report)`` in file and annotation order; for a folder, skipped records are indexed
        ``"<file name>[<annotation index>]"`` and the report's ``source`` is the folder.

    Raises:
        FileNotFoundError: ``ann_path`` does not exist, or a folder holds no ``.json`` file.
        ValueError: a file is not JSON or not COCO-format keypoint data (the message names it).
    """
    path = Path(ann_path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"no PoseTrack18 .json file in folder {str(path)!r}")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"PoseTrack18 annotation path not found: {str(path)!r}")
    samples: list[PoseSample] = []
    skipped: list[SkippedRecord] = []
    notes: list[str] = []
    num_records = 0
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"PoseTrack18 annotation file {str(file)!r} is not valid JSON: {exc}") from exc
        got, report = parse_coco_keypoints(
            data, source=file, image_dir=image_dir, min_keypoints=min_keypoints, check_images=check_images,
            occlusion_flags=False, skeleton_name="posetrack18", annotation_keys=("track_id", "bbox_head"),
            image_keys=_IMAGE_KEYS,
        )
        samples.extend(_posetrack_meta(s) for s in got)
        num_records += report.num_records
        prefix = len(files) > 1
        skipped.extend(replace(s, index=f"{file.name}[{s.index}]") if prefix else s for s in report.skipped)
        notes.extend(n for n in report.notes if n not in notes)
    return samples, LoadReport(path, num_records, len(samples), tuple(skipped), tuple(notes))


def _posetrack_meta(sample: PoseSample) -> PoseSample:
    old = dict(sample.meta)
    meta: dict[str, Any] = {k: v for k, v in old.items() if k not in _IMAGE_KEYS and k != "bbox_head"}
    if "track_id" in old:
        meta["track_id"] = int(old["track_id"])
    if "vid_id" in old:
        meta["video_id"] = str(old["vid_id"])
    if "frame_id" in old:
        meta["frame_id"] = int(old["frame_id"])
    if "nframes" in old:
        meta["num_frames"] = int(old["nframes"])
    stem = Path(str(old.get("file_name", ""))).stem
    if stem.isdigit():
        meta["frame_index"] = int(stem)
    head = old.get("bbox_head")
    try:
        x, y, w, h = (float(v) for v in head)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        pass
    else:
        if np.isfinite([x, y, w, h]).all() and w >= 0 and h >= 0:
            meta["head_box"] = np.array([x, y, x + w, y + h], dtype=np.float32)
            meta["head_size"] = 0.6 * float(np.hypot(w, h))
    xs, ys = old.get("ignore_regions_x") or (), old.get("ignore_regions_y") or ()
    regions = []
    for rx, ry in zip(xs, ys):
        try:
            poly = np.stack([np.asarray(rx, np.float32), np.asarray(ry, np.float32)], axis=1)
        except ValueError:
            continue
        regions.append(poly)
    meta["ignore_regions"] = tuple(regions)
    return replace(sample, meta=meta)
