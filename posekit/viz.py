"""Drawing: 2D poses on images (pure functions; inputs are never modified)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from posekit.io.image import load_image

if TYPE_CHECKING:  # annotations only: viz sits below types (Poses.plot draws with it)
    from posekit.skeletons import Skeleton
    from posekit.types import Poses

# Fallback palette (RGB) for skeletons without colours, and for track ids.
_PALETTE = (
    (255, 128, 0), (51, 153, 255), (0, 255, 0), (255, 51, 255), (255, 255, 0), (0, 255, 255),
    (255, 0, 0), (128, 0, 255), (0, 128, 255), (255, 153, 153), (153, 255, 153), (153, 153, 255),
)


# Per-part sizes: ``(name token, dot radius factor, line width factor)``. A keypoint in a part of the skeleton
# (``Skeleton.parts``) whose name has the token is drawn with the radius times the first factor, a link between
# two such keypoints with the width times the second (a link takes its smaller end), rounded down, at least
# 1 pixel. Other parts (body, foot, hand21's fingers) keep the full size. The line factors are smaller than the
# dot factors because OpenCV draws anti-aliased widths 2k-1 and 2k alike: body width 4 gives face 1 and hand 2,
# width 6 gives 2 and 3.
PART_SCALES: tuple[tuple[str, float, float], ...] = (("face", 0.5, 1 / 3), ("hand", 0.75, 0.6))


def _color(colors: tuple, i: int) -> tuple[int, int, int]:
    c = colors[i] if i < len(colors) else _PALETTE[i % len(_PALETTE)]
    return int(c[0]), int(c[1]), int(c[2])


def keypoint_scales(skeleton: Skeleton) -> np.ndarray:
    """(K, 2) float64 (dot radius, line width) factor per keypoint from ``skeleton.parts`` and
    :data:`PART_SCALES` (1 outside them)."""
    out = np.ones((skeleton.num_keypoints, 2))
    for name, idx in skeleton.parts:
        tokens = set(name.lower().split("_"))
        out[list(idx)] = next((f for token, *f in PART_SCALES if token in tokens), (1.0, 1.0))
    return out


def _scaled(size: int, factor: float) -> int:
    return size if factor >= 1.0 else max(1, int(size * factor))


def draw(
    image: Any,
    poses: Poses,
    *,
    kpt_thr: float = 0.3,
    radius: int | None = None,
    thickness: int | None = None,
    draw_boxes: bool = False,
    draw_ids: bool = True,
    part_styles: bool = True,
) -> np.ndarray:
    """A new HxWx3 RGB uint8 image with ``poses`` drawn on a copy of ``image``.

    Args:
        image: path, HxWx3 RGB uint8 array or PIL image (see :func:`posekit.load_image`); not modified.
        poses: the poses, in this image's pixels.
        kpt_thr: keypoints (and links touching them) with score below this are not drawn; missing (NaN)
            keypoints never are.
        radius, thickness: dot radius and line width in pixels of the body (default: scaled to the image size).
        part_styles: draw the skeleton's face parts (dots half the radius, lines a third of the width) and hand
            parts (3/4 radius, 0.6 width) smaller than the body (:data:`PART_SCALES`); ``False`` draws every part
            at full size.
        draw_boxes: also draw each instance's box (coloured by track id when present).
        draw_ids: write the track id above the box when ``poses.track_ids`` is set.

    Links use the skeleton's per-limb colours (per finger on hands); keypoint dots the per-keypoint colours.
    """
    canvas = load_image(image)  # always a fresh array
    h, w = canvas.shape[:2]
    scale = max(h, w) / 640.0
    radius = radius if radius is not None else max(2, round(3 * scale))
    thickness = thickness if thickness is not None else max(1, round(2 * scale))
    skel = poses.skeleton
    factor = keypoint_scales(skel) if part_styles else np.ones((skel.num_keypoints, 2))
    link_width = [_scaled(thickness, min(factor[a, 1], factor[b, 1])) for a, b in skel.links]
    dot_radius = [_scaled(radius, f) for f in factor[:, 0]]
    # Sub-pixel drawing: cv2 takes fixed-point coordinates with `shift` fractional bits. Keypoints are in
    # corner-origin pixels; cv2 draws in centre-origin pixels, hence the -0.5.
    shift = 4
    for i in range(len(poses)):
        kpts = poses.keypoints[i]
        ok = np.isfinite(kpts).all(axis=1) & (poses.scores[i] >= kpt_thr)
        fixed = np.round((np.nan_to_num(kpts) - 0.5) * (1 << shift)).astype(np.int64)
        for li, (a, b) in enumerate(skel.links):
            if ok[a] and ok[b]:
                cv2.line(canvas, tuple(map(int, fixed[a])), tuple(map(int, fixed[b])),
                         _color(skel.link_colors, li), link_width[li], cv2.LINE_AA, shift)
        for k in np.flatnonzero(ok):
            cv2.circle(canvas, tuple(map(int, fixed[k])), dot_radius[k] << shift,
                       _color(skel.keypoint_colors, int(k)), -1, cv2.LINE_AA, shift)
        tid = None if poses.track_ids is None else int(poses.track_ids[i])
        if draw_boxes or (draw_ids and tid is not None):
            x1, y1, x2, y2 = (int(round(v)) for v in poses.boxes[i])
            color = _PALETTE[(tid if tid is not None else i) % len(_PALETTE)]
            if draw_boxes:
                cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
            if draw_ids and tid is not None:
                cv2.putText(canvas, f"id {tid}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5 * max(1.0, scale), color, thickness, cv2.LINE_AA)
    return canvas
