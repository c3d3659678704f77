"""Input/output: images (path | ndarray | PIL -> RGB uint8), video frames in and out, COCO keypoint JSON."""

from __future__ import annotations

from posekit.io.coco import load_coco_annotations, read_coco_results, write_coco_results
from posekit.io.image import load_image, save_image
from posekit.io.video import VideoReader, VideoReadError, VideoWriter, read_video_frames

__all__ = [
    "VideoReadError",
    "VideoReader",
    "VideoWriter",
    "load_coco_annotations",
    "load_image",
    "read_coco_results",
    "read_video_frames",
    "save_image",
    "write_coco_results",
]
