"""README figures: COCO-WholeBody and AP-10K ground truth drawn with :func:`posekit.draw`.

Ground truth, not model output (no official weights can be downloaded here): the annotations of MMPose's test
data (``../shared/data/mmpose_testdata/tests/data/{coco,ap10k}``) loaded with
:func:`posekit.data.load_coco_keypoints` (COCO-WholeBody's body, foot, face and hand lists assembled into
``coco_wholebody133``), every labelled keypoint drawn (score 1; unlabelled ones are missing), with the
skeleton's part styles (face thin, hands by finger and thinner than the body).

* ``docs/images/wholebody_gt.png`` (800x600): COCO val2017 image 197388, the people around the one whose face
  and both hands are annotated (132 of 133 keypoints labelled), and zooms on that person's face and hands
  (rectangles on the left panel).
* ``docs/images/ap10k_gt.png`` (800x300): the two AP-10K test images, each cropped to its animal.

The photo is resampled with the same affine map as the keypoints (corner-origin pixels, see
:mod:`posekit.types`), the drawing is done at the output resolution, and the PNG is stored with an adaptive
256-colour palette to stay small.

    OMP_NUM_THREADS=1 python benchmarks/draw_wholebody_figure.py [--data DIR] [--out docs/images]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import posekit
from posekit.data import load_coco_keypoints
from posekit.types import Poses

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "mmpose_testdata" / "tests" / "data"
BACKGROUND = (24, 24, 24)


def _poses(samples) -> Poses:
    """All samples of one image as Poses: labelled keypoints with score 1, boxes from the annotations."""
    kpts = np.stack([s.keypoints for s in samples])
    boxes = np.stack([s.box for s in samples])
    return Poses(kpts, np.isfinite(kpts[..., 0]).astype(np.float32), boxes, samples[0].skeleton)


def _panel(image: np.ndarray, poses: Poses, region, size, *, radius: int, thickness: int) -> np.ndarray:
    """``region`` (x0, y0, x1, y1 image pixels) resampled to ``size`` (w, h) with ``poses`` drawn on it."""
    (x0, y0, x1, y1), (w, h) = region, size
    s = min(w / (x1 - x0), h / (y1 - y0))
    ox, oy = (x0 + x1) / 2 - w / (2 * s), (y0 + y1) / 2 - h / (2 * s)  # centre the region
    # u' = s (u - o) in corner-origin pixels; cv2 maps centre-origin pixels, hence the 0.5 terms.
    m = np.array([[s, 0, s * (0.5 - ox) - 0.5], [0, s, s * (0.5 - oy) - 0.5]])
    crop = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=BACKGROUND)
    kpts = (np.asarray(poses.keypoints, np.float64) - (ox, oy)) * s
    boxes = (np.asarray(poses.boxes, np.float64) - (ox, oy, ox, oy)) * s
    moved = Poses(kpts, poses.scores, boxes, poses.skeleton)
    return posekit.draw(crop, moved, kpt_thr=0.5, radius=radius, thickness=thickness), (ox, oy, s)


def _label(panel: np.ndarray, text: str) -> None:
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    cv2.rectangle(panel, (0, 0), (tw + 10, th + 10), BACKGROUND, -1)
    cv2.putText(panel, text, (5, th + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def _square(box, aspect: float, margin: float) -> tuple[float, float, float, float]:
    """A region of width/height ``aspect`` around ``box`` (xyxy) with ``margin`` times its size around it."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    h = max(box[3] - box[1], (box[2] - box[0]) / aspect) * (1 + margin)
    return cx - aspect * h / 2, cy - h / 2, cx + aspect * h / 2, cy + h / 2


def _save(rgb: np.ndarray, path: Path) -> None:
    Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True)
    print(f"wrote {path} ({rgb.shape[1]}x{rgb.shape[0]}, {path.stat().st_size / 1024:.0f} KiB)")


def wholebody_figure(data: Path, out: Path, image_id: int = 197388) -> None:
    samples, _ = load_coco_keypoints(data / "coco" / "test_coco_wholebody.json", image_dir=data / "coco")
    samples = [s for s in samples if s.image_id == image_id]
    image = posekit.load_image(samples[0].image_path)
    poses = _poses(samples)
    full = max(samples, key=lambda s: np.isfinite(s.keypoints[:, 0]).sum())  # the person with face and hands
    parts = {p: full.keypoints[list(idx)] for p, idx in full.skeleton.parts}
    assert all(np.isfinite(parts[p]).all() for p in ("face", "left_hand", "right_hand")), "no labelled face/hands"

    main_region = _square(full.box, 520 / 600, 0.25)
    main, (ox, oy, s) = _panel(image, poses, main_region, (520, 600), radius=4, thickness=3)
    zooms = []
    for part, label in (("face", "face: 68 points"), ("left_hand", "left hand: 21 points"), ("right_hand", "right hand: 21 points")):
        p = parts[part]
        box = (*p.min(0), *p.max(0))
        region = _square(box, 280 / 200, 0.35)
        panel, _ = _panel(image, poses, region, (280, 200), radius=6, thickness=4)
        _label(panel, label)
        zooms.append(panel)
        x0, y0, x1, y1 = ((np.array(region) - (ox, oy, ox, oy)) * s).round().astype(int)
        cv2.rectangle(main, (x0, y0), (x1, y1), (220, 220, 220), 1, cv2.LINE_AA)
    _label(main, "COCO-WholeBody ground truth, 133 keypoints")
    right = np.concatenate(zooms, axis=0)
    figure = np.concatenate([main, np.full((600, 2, 3), BACKGROUND, np.uint8), right[:, 2:]], axis=1)
    for y in (199, 399):
        figure[y:y + 2, 522:] = BACKGROUND
    _save(figure, out / "wholebody_gt.png")


def ap10k_figure(data: Path, out: Path) -> None:
    samples, _ = load_coco_keypoints(data / "ap10k" / "test_ap10k.json", image_dir=data / "ap10k")
    panels = []
    for sample in samples:
        image = posekit.load_image(sample.image_path)
        region = _square(sample.box, 399 / 300, 0.1)
        panel, _ = _panel(image, _poses([sample]), region, (399, 300), radius=5, thickness=3)
        panels.append(panel)
    _label(panels[0], f"AP-10K ground truth, {samples[0].skeleton.num_keypoints} keypoints")
    figure = np.concatenate([panels[0], np.full((300, 2, 3), BACKGROUND, np.uint8), panels[1]], axis=1)
    _save(figure, out / "ap10k_gt.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="MMPose's tests/data folder")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    wholebody_figure(args.data, args.out)
    ap10k_figure(args.data, args.out)


if __name__ == "__main__":
    main()
