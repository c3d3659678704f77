"""MPII Human Pose annotations -> :class:`~posekit.data.sample.PoseSample` list: ``hg_valid.h5`` and joint CSVs.

Both carry the 16 joints in the ``mpii16`` order (right ankle ... left wrist). MPII's coordinates are MATLAB
1-based pixel indices (pixel ``(1, 1)`` is centred at ``(1, 1)``); with ``one_based=True`` (default) they are moved
to posekit's frame (origin at the top-left pixel's corner, pixel ``(0, 0)`` centred at ``(0.5, 0.5)``) by
subtracting 0.5. (MMPose and HRNet subtract 1, to their pixel-centred frame.) ``one_based=False`` keeps them.

``hg_valid.h5`` (pose-hg-train's annotation file for the standard 2958-person validation split), per person:

* ``part`` (16, 2): joints; unlabelled joints are stored as ``(0, 0)`` (``(-1, -1)`` for a person
  with no joint annotation) -> NaN here.
* ``visible`` (16,): MPII's ``is_visible``: 1 = visible, 0 = occluded *or* unlabelled -> ``visible`` as is.
* ``normalize``: the PCKh head size, ``0.6 * ||(x2 - x1, y2 - y1)||`` of the annotated head box (pose-hg-train
  computes it so) -> ``meta["head_size"]`` in pixels.
* ``center`` (2,), ``scale``: person centre and size / 200 px, already adjusted by pose-hg-train (centre moved
  ``15 * scale`` px down, scale x 1.25). ``box`` is the square crop they define: side ``200 * scale`` px centred at
  ``center``. Both are also in ``meta`` as stored.
* ``imgname`` -> ``image_id``; ``index`` (0-based image index in MPII's release), ``person`` (0-based person index
  in that image) and ``torsoangle`` (degrees) -> ``meta``.

The joint CSVs (``deeppose_mpii_{train,test}_joints.csv``: image name then x, y of the 16 joints) have no
visibility and no boxes: every labelled joint has ``visible`` 1, a joint stored as ``(-1, -1)`` is unlabelled, and
the box is the joints' tight box enlarged ``box_padding`` times. Negative coordinates other than that are real
(joints outside the image).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import h5py
import numpy as np

from posekit.data.sample import LoadReport, PoseSample, _Collector, box_from_keypoints
from posekit.skeletons import mpii16

__all__ = ["load_mpii", "load_mpii_csv"]

_H5_KEYS = ("imgname", "part", "visible", "normalize", "center", "scale")


def load_mpii(
    h5_path: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    check_images: bool = True,
    one_based: bool = True,
) -> tuple[list[PoseSample], LoadReport]:
    """Load pose-hg-train's MPII annotation file (``hg_valid.h5`` or its train twin).

    Args:
        h5_path: the ``.h5`` file.
        image_dir: MPII's ``images/`` folder; ``None`` gives samples with ``image_path=None`` (no image checks).
        check_images: with ``image_dir``, skip persons whose image file is missing (``missing_image``).
        one_based: convert MATLAB 1-based coordinates to posekit's frame (module docstring).

    Returns:
        ``(samples, report)``, one sample per person in file order, skeleton ``mpii16``, with ``meta``
        ``head_size`` (px), ``center`` ((2,) px, same frame as the keypoints), ``scale``, ``index``, ``person``,
        ``torso_angle``. Persons with no labelled joint, a non-positive head size or scale are reported.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an HDF5 file, a field missing (``imgname``, ``part``, ``visible``, ``normalize``,
            ``center``, ``scale``) or fields of inconsistent shapes; the message names the file and the field.
    """
    path = Path(h5_path)
    if not path.is_file():
        raise FileNotFoundError(f"MPII annotation file not found: {str(path)!r}")
    fields = _read_h5(path)
    shift = 0.5 if one_based else 0.0
    root = None if image_dir is None else Path(image_dir)
    n = len(fields["imgname"])
    log = _Collector()
    samples = []
    for i in range(n):
        name = fields["imgname"][i]
        part, vis = fields["part"][i], fields["visible"][i]
        head, center, scale = float(fields["normalize"][i]), fields["center"][i] - shift, float(fields["scale"][i])
        labelled = ~(part == 0).all(axis=1) & ~(part == -1).all(axis=1) & np.isfinite(part).all(axis=1)
        if not labelled.any():
            log.skip(i, "too_few_keypoints", f"person {i} ({name}) has no labelled joint", name)
            continue
        if not (np.isfinite(head) and head > 0):
            log.skip(i, "bad_value", f"person {i} ({name}) has head size {head!r}", name)
            continue
        if not (np.isfinite(scale) and scale > 0 and np.isfinite(center).all()):
            log.skip(i, "bad_value", f"person {i} ({name}) has centre {center.tolist()} / scale {scale!r}", name)
            continue
        image_path = _image(root, name, check_images, i, log)
        if image_path is False:
            continue
        kpts = np.where(labelled[:, None], part - shift, np.nan)
        half = 100.0 * scale
        box = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half])
        meta = {"head_size": head, "center": center.astype(np.float32), "scale": scale}
        for key, out in (("index", "index"), ("person", "person"), ("torsoangle", "torso_angle")):
            if key in fields:
                meta[out] = int(fields[key][i]) if key != "torsoangle" else float(fields[key][i])
        visible = np.where(labelled, np.clip(vis, 0, 1), 0.0).astype(np.float32)
        samples.append(PoseSample(image_path, kpts, visible, box, mpii16, name, meta))
    log.notes.append("head_size = pose-hg-train 'normalize' (0.6 x head-box diagonal)")
    return samples, log.report(path, n, len(samples))


def load_mpii_csv(
    csv_path: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    check_images: bool = True,
    one_based: bool = True,
    box_padding: float = 1.2,
) -> tuple[list[PoseSample], LoadReport]:
    """Load an MPII joint CSV (rows ``image_name, x0, y0, ..., x15, y15``; no header).

    Args: as :func:`load_mpii`, plus ``box_padding`` for the joint-derived box.

    Returns:
        ``(samples, report)``, one sample per row, skeleton ``mpii16``, ``image_id`` the image name,
        ``meta["row"]`` the 0-based row. Rows with the wrong number of fields or non-numbers are reported.

    Raises:
        FileNotFoundError: no such file.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"MPII joint CSV not found: {str(path)!r}")
    shift = 0.5 if one_based else 0.0
    root = None if image_dir is None else Path(image_dir)
    log = _Collector()
    samples = []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    for i, row in enumerate(rows):
        if len(row) != 33:
            log.skip(i, "bad_shape", f"row {i} has {len(row)} fields, expected 33 (image name + 16 x, y)")
            continue
        name = row[0].strip()
        try:
            xy = np.array([float(v) for v in row[1:]], dtype=np.float64).reshape(16, 2)
        except ValueError as exc:
            log.skip(i, "bad_value", f"row {i} ({name}): {exc}", name)
            continue
        labelled = ~(xy == -1).all(axis=1) & np.isfinite(xy).all(axis=1)
        if not labelled.any():
            log.skip(i, "too_few_keypoints", f"row {i} ({name}) has no labelled joint", name)
            continue
        image_path = _image(root, name, check_images, i, log)
        if image_path is False:
            continue
        kpts = np.where(labelled[:, None], xy - shift, np.nan)
        box = box_from_keypoints(kpts, padding=box_padding)
        samples.append(PoseSample(image_path, kpts, labelled.astype(np.float32), box, mpii16, name, {"row": i}))
    return samples, log.report(path, len(rows), len(samples))


def _image(root: Path | None, name: str, check: bool, index: int, log: _Collector) -> Path | None | bool:
    """The image path (None without a folder), or False after logging a missing file."""
    if root is None:
        return None
    path = root / name
    if check and not path.is_file():
        log.skip(index, "missing_image", f"image file not found: {str(path)!r}", name)
        return False
    return path


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r} as HDF5: {exc}") from exc
    with handle:
        missing = [key for key in _H5_KEYS if key not in handle]
        if missing:
            raise ValueError(
                f"MPII annotation file {str(path)!r} lacks the field(s) {missing}; it has {sorted(handle)}"
            )
        fields = {key: handle[key][()] for key in handle if isinstance(handle[key], h5py.Dataset)}
    fields["imgname"] = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in fields["imgname"]])
    n = len(fields["imgname"])
    expected = {"part": (n, 16, 2), "visible": (n, 16), "normalize": (n,), "center": (n, 2), "scale": (n,)}
    for key, shape in expected.items():
        fields[key] = np.asarray(fields[key], dtype=np.float64)
        if fields[key].shape != shape:
            raise ValueError(f"MPII annotation file {str(path)!r}: field {key!r} must have shape {shape}, "
                             f"got {fields[key].shape}")
    for key in ("index", "person", "torsoangle"):
        if key in fields and np.shape(fields[key]) != (n,):
            del fields[key]
    return fields
