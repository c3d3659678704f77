"""Leeds Sports Pose (LSP) and LSP-extended (LSPET) ``joints.mat`` -> :class:`~posekit.data.sample.PoseSample` list.

Both sets store 14 joints per image in the ``lsp14`` order (right ankle ... left wrist, neck, head top), one
person per image, images ``images/im0001.jpg`` (LSP, 4 digits) or ``images/im00001.jpg`` (LSPET, 5 digits).
The two ``joints.mat`` files differ in layout *and* in the meaning of the third row (checked on the data):

* LSP: ``joints`` is (3, 14, 2000) -- x, y, flag -- and the flag is 1 when the joint is **occluded**. Every joint
  is labelled (all but one of the 28,000 joints lie inside their image). ``visible = 1 - flag``;
  ``meta["occluded"]`` holds the (14,) bool flags.
* LSPET: ``joints`` is (14, 3, 10000) -- x, y, flag -- and the flag is 1 when the joint is **visible**. Flag 0
  marks joints that were not placed: their coordinates are 0 or negative, outside the image (3349 of the 3361
  flag-0 joints of images 1-2000). They load as unlabelled: keypoint NaN, ``visible`` 0.

Coordinates are used as stored (the release does not state a pixel-origin convention). Boxes are derived from the
labelled joints: their tight box enlarged ``box_padding`` times about its centre (not clipped to the image).
``image_id`` is the image file's stem (``"im1001"``, ``"im00001"``); ``meta["index"]`` is the 0-based image index.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.io

from posekit.data.sample import LoadReport, PoseSample, _Collector, box_from_keypoints
from posekit.skeletons import lsp14

__all__ = ["LSP_TEST_INDICES", "load_lsp"]

LSP_TEST_INDICES = range(1000, 2000)
"""The standard LSP test split: images im1001-im2000 (0-based indices 1000-1999); 0-999 are for training."""


def load_lsp(
    root: str | os.PathLike,
    *,
    indices: Iterable[int] | None = None,
    extended: bool = False,
    check_images: bool = True,
    box_padding: float = 1.2,
) -> tuple[list[PoseSample], LoadReport]:
    """Load LSP (``extended=False``) or LSP-extended (``extended=True``) from ``root``.

    Args:
        root: folder holding ``joints.mat`` and ``images/``.
        indices: 0-based image indices to load; ``None`` = :data:`LSP_TEST_INDICES` for LSP, every image for LSPET.
        extended: read the LSPET layout and flag meaning (module docstring).
        check_images: skip images whose file is missing (``missing_image``; e.g. a partial LSPET copy).
        box_padding: enlargement of the joints' tight box (see :func:`~posekit.data.sample.box_from_keypoints`).

    Returns:
        ``(samples, report)``, one sample per image, skeleton ``lsp14``; out-of-range indices and images with no
        labelled joint are reported, not raised.

    Raises:
        FileNotFoundError: ``root/joints.mat`` does not exist.
        ValueError: the file is not a MATLAB file with a ``joints`` array of the expected layout.
    """
    root = Path(root)
    joints = _read_joints(root / "joints.mat", extended=extended)  # (N, 14, 3)
    n = len(joints)
    if indices is None:
        indices = range(n) if extended else LSP_TEST_INDICES
    digits = 5 if extended else 4
    log = _Collector()
    samples = []
    indices = list(indices)
    for index in indices:
        if not (0 <= int(index) < n):
            log.skip(index, "bad_value", f"image index {index} is out of range for {n} images")
            continue
        index = int(index)
        stem = f"im{index + 1:0{digits}d}"
        path = root / "images" / f"{stem}.jpg"
        if check_images and not path.is_file():
            log.skip(index, "missing_image", f"image file not found: {str(path)!r}", stem)
            continue
        xy, flag = joints[index, :, :2], joints[index, :, 2]
        if extended:
            labelled = flag > 0
            visible = labelled.astype(np.float32)
            meta = {"index": index}
        else:
            labelled = np.ones(14, dtype=bool)
            visible = (1.0 - flag).astype(np.float32)
            meta = {"index": index, "occluded": flag > 0}
        labelled &= np.isfinite(xy).all(axis=1)
        if not labelled.any():
            log.skip(index, "too_few_keypoints", f"image {stem} has no labelled joint", stem)
            continue
        kpts = np.where(labelled[:, None], xy, np.nan)
        box = box_from_keypoints(kpts, padding=box_padding)
        samples.append(PoseSample(path, kpts, np.where(labelled, visible, 0.0), box, lsp14, stem, meta))
    name = "LSP-extended" if extended else "LSP"
    log.notes.append(f"{name} joints.mat: flag read as {'visible' if extended else 'occluded'}")
    return samples, log.report(root / "joints.mat", len(indices), len(samples))


def _read_joints(path: Path, *, extended: bool) -> np.ndarray:
    """(N, 14, 3) float64 x, y, flag from an LSP or LSPET ``joints.mat``."""
    if not path.is_file():
        raise FileNotFoundError(f"LSP joints file not found: {str(path)!r}")
    try:
        mat = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB file: {exc}") from exc
    if "joints" not in mat:
        have = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{str(path)!r} has no 'joints' array; it has {have}")
    joints = np.asarray(mat["joints"], dtype=np.float64)
    want, other = ((14, 3), (3, 14)) if extended else ((3, 14), (14, 3))
    if joints.ndim != 3 or joints.shape[:2] != want:
        name, other_name = ("LSP-extended", "LSP") if extended else ("LSP", "LSP-extended")
        hint = ""
        if joints.ndim == 3 and joints.shape[:2] == other:
            hint = f"; this looks like {other_name}'s ({other[0]}, {other[1]}, N): pass extended={not extended}"
        raise ValueError(
            f"{name} {str(path)!r}: 'joints' must have shape ({want[0]}, {want[1]}, N), got {joints.shape}{hint}"
        )
    return joints.transpose(2, 0, 1) if extended else joints.transpose(2, 1, 0)
