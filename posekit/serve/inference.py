"""The work of one request, off the event loop: decode the checked upload, run the model, build the answer.

:class:`BoundedPool` runs that work in ``concurrency`` worker threads with at most ``max_queue`` requests waiting:
a request beyond the bound is refused at once (503 with ``Retry-After``), never piled up; a request still without an
answer after ``timeout_s`` gets 504 (a queued one is dropped; a running one finishes in its thread and still holds
its place in the bound until it does, so the bound stays true).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps

from posekit.io.image import load_image
from posekit.serve.limits import ApiError
from posekit.serve.metrics import Metrics
from posekit.skeletons import Skeleton
from posekit.types import Poses
from posekit.viz import keypoint_scales

__all__ = ["BoundedPool", "decode_image", "encode_image", "poses_payload", "skeleton_payload", "timed"]

T = TypeVar("T")


def decode_image(data: bytes, kind: str, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an upload that passed :func:`posekit.serve.limits.check_upload` (``size`` is
    the header's ``(width, height)``); EXIF orientation applied, as :func:`posekit.load_image` does for files.

    Raises:
        ApiError: 400 ``bad_image`` for a truncated or undecodable file, or one whose decoder disagrees with its
            header about the size.
    """
    try:
        with Image.open(io.BytesIO(data)) as pil:
            if pil.size != tuple(size):
                raise ApiError(400, "bad_image", f"the {kind.upper()} header says {size[0]} x {size[1]} but the "
                                                 f"decoder reads {pil.size[0]} x {pil.size[1]}")
            pil.load()
            return load_image(ImageOps.exif_transpose(pil))
    except ApiError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ApiError(400, "bad_image", f"cannot decode the {kind.upper()} image (truncated or corrupt): {exc}")


def _nulls(a: np.ndarray) -> list:
    """Nested lists of ``a`` with NaN as ``None``."""
    return np.where(np.isnan(a), None, a.astype(object)).tolist()


def poses_payload(poses: Poses) -> list[dict]:
    """One dict per instance: ``keypoints`` (K lists ``[x, y]`` pixels, ``None`` for missing), ``scores`` (K),
    ``box`` (``x1, y1, x2, y2`` pixels), ``box_score``, ``score`` (the COCO instance score) and ``keypoints_3d``
    (K lists ``[x, y, z]``, the model's 3D frame, when it gives them)."""
    out = []
    person = poses.instance_scores()
    for i in range(len(poses)):
        item = {"keypoints": _nulls(poses.keypoints[i].astype(np.float64)),
                "scores": poses.scores[i].astype(np.float64).tolist(),
                "box": poses.boxes[i].astype(np.float64).tolist(),
                "box_score": float(poses.box_scores[i]), "score": float(person[i])}
        if poses.keypoints_3d is not None:
            item["keypoints_3d"] = _nulls(poses.keypoints_3d[i].astype(np.float64))
        out.append(item)
    return out


def skeleton_payload(skeleton: Skeleton) -> dict:
    """``name``, ``keypoints`` (K names), ``links`` (index pairs drawn as limbs), ``link_colors`` /
    ``keypoint_colors`` (RGB 0-255, posekit's palette) and ``link_scales`` / ``keypoint_scales`` (line width and dot
    radius factors of :func:`posekit.viz.keypoint_scales`: faces thinnest, hands thinner than the body): what a
    client needs to draw any skeleton as ``posekit.draw`` does."""
    scales = keypoint_scales(skeleton)
    return {"name": skeleton.name, "keypoints": list(skeleton.keypoints),
            "links": [list(pair) for pair in skeleton.links],
            "link_colors": [list(c) for c in skeleton.link_colors],
            "keypoint_colors": [list(c) for c in skeleton.keypoint_colors],
            "link_scales": [float(min(scales[a, 1], scales[b, 1])) for a, b in skeleton.links],
            "keypoint_scales": [float(v) for v in scales[:, 0]]}


def encode_image(image: np.ndarray, fmt: str) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> PNG or JPEG (quality 90) bytes."""
    buffer = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "jpeg":
        pil.save(buffer, format="JPEG", quality=90)
    else:
        pil.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class BoundedPool:
    """``concurrency`` worker threads behind a queue of at most ``max_queue`` waiting calls (see the module)."""

    def __init__(self, *, concurrency: int, max_queue: int, timeout_s: float, retry_after_s: int,
                 metrics: Metrics) -> None:
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="posekit-serve")
        self._bound = concurrency + max_queue
        self._timeout_s = timeout_s
        self._retry_after = str(retry_after_s)
        self._metrics = metrics
        self._lock = threading.Lock()
        self._admitted = 0

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self._bound:
                raise ApiError(503, "overloaded", f"the server is busy ({self._admitted} requests running or "
                                                  f"waiting, the limit is {self._bound}); retry later",
                               {"Retry-After": self._retry_after})
            self._admitted += 1
        self._metrics.queue(waiting=1)

    def _release(self, _: Future) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread; 503 when the bound is reached, 504 after ``timeout_s``."""
        self._admit()

        def work() -> T:
            self._metrics.queue(waiting=-1, running=1)
            try:
                return fn(*args)
            finally:
                self._metrics.queue(running=-1)

        future = self._executor.submit(work)
        future.add_done_callback(self._release)
        wrapped = asyncio.wrap_future(future)
        wrapped.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" after a 504
        try:
            return await asyncio.wait_for(asyncio.shield(wrapped), self._timeout_s)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            if future.cancel():  # still queued: it never runs
                self._metrics.queue(waiting=-1)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ApiError(504, "timeout", f"no answer within {self._timeout_s:g} s (--timeout-s); the server may be "
                                           f"overloaded or the image too large") from None

    def shutdown(self) -> None:
        """Stop the workers (queued calls are cancelled; running ones finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``(fn(*args), milliseconds)``."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1000.0
