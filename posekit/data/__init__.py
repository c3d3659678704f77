"""Dataset loaders: annotation files -> ``(list[PoseSample], LoadReport)``; bad records are reported, not raised.

One module per format: :mod:`~posekit.data.coco` (any COCO-format keypoint JSON), :mod:`~posekit.data.lsp` (LSP and
LSP-extended), :mod:`~posekit.data.mpii` (pose-hg-train ``.h5`` and joint CSVs, PCKh head sizes),
:mod:`~posekit.data.posetrack` (PoseTrack18 videos) and :mod:`~posekit.data.npz3d` (VideoPose3D ``.npz`` 3D/2D
sequences). :mod:`~posekit.data.sample` defines the records.
"""

from __future__ import annotations

from posekit.data.coco import load_coco_keypoints, parse_coco_keypoints, skeleton_from_category
from posekit.data.lsp import load_lsp
from posekit.data.mpii import load_mpii, load_mpii_csv
from posekit.data.npz3d import PoseSequence, load_npz3d
from posekit.data.posetrack import load_posetrack18
from posekit.data.sample import LoadReport, PoseSample, SkippedRecord, box_from_keypoints

__all__ = [
    "LoadReport",
    "PoseSample",
    "PoseSequence",
    "SkippedRecord",
    "box_from_keypoints",
    "load_coco_keypoints",
    "load_lsp",
    "load_mpii",
    "load_mpii_csv",
    "load_npz3d",
    "load_posetrack18",
    "parse_coco_keypoints",
    "skeleton_from_category",
]
