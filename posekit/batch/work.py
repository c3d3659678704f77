"""One task of a ``posekit batch`` run, the same in every engine (:func:`run_task`): inputs in, pose rows and error
rows out.

Images: read in parallel (a thread pool; the header is checked against ``max_pixels`` before decoding), then the
model runs on ``batch_size`` images per call (:meth:`~posekit.PoseEstimator.predict_batch`, which batches the crops
of all persons of those images). A batch that fails is run again one image at a time, so one bad image (an
exception, running out of memory) becomes one error row and the others keep their results. Videos: the video
runner's tracking mode (:func:`posekit.video.runner.iter_video`) over the task's frame range; a truncated file keeps
the frames before the bad one and adds an error row.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from posekit.batch.plan import RunSpec, Task
from posekit.batch.records import pose_rows
from posekit.io.image import load_image
from posekit.io.video import VideoReadError
from posekit.pipelines.registry import build_estimator
from posekit.runtime.threads import configure_threads
from posekit.video.runner import iter_video

__all__ = ["TaskResult", "build", "compute_threads", "run_task"]

READ_THREADS = 2


@dataclass
class TaskResult:
    """Rows of one task: ``poses`` (:data:`~posekit.batch.records.POSES_SCHEMA` dicts), ``errors``
    (:data:`~posekit.batch.records.ERRORS_SCHEMA` dicts), and counts: ``items`` (images or frames processed)."""

    poses: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    items: int = 0


def build(spec: RunSpec) -> Any:
    """The estimator of ``spec`` (one per process or actor)."""
    return build_estimator(spec.model, **spec.options)


@contextmanager
def compute_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` PyTorch/OpenCV/ONNX Runtime threads (:func:`configure_threads`), then give PyTorch
    and OpenCV their counts back."""
    before = torch.get_num_threads(), cv2.getNumThreads()
    configure_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _error(file: str, stage: str, exc: BaseException, frame: int | None = None) -> dict[str, Any]:
    message = str(exc) or type(exc).__name__
    return {"file": file, "frame": frame, "stage": stage, "error": type(exc).__name__, "message": message}


def _read(path: str, max_pixels: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image file; ``ValueError`` for one whose header declares more than
    ``max_pixels``."""
    try:
        with Image.open(path) as probe:
            width, height = probe.size
    except Image.DecompressionBombError as exc:  # PIL's own guard, for headers far beyond any sane size
        raise ValueError(f"the image is over the limit of {max_pixels:,} pixels (--max-pixels): {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read the image: {exc}") from None
    if width * height > max_pixels:
        raise ValueError(f"the image is {width} x {height} = {width * height:,} pixels, over the limit of "
                         f"{max_pixels:,} (--max-pixels)")
    return load_image(path)


def _images(estimator: Any, task: Task, spec: RunSpec, model: str) -> TaskResult:
    out = TaskResult()
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="posekit-batch-read") as pool:
        futures = [pool.submit(_read, p, spec.max_pixels) for p in task.paths]
        ready: list[tuple[str, np.ndarray]] = []
        for path, future in zip(task.paths, futures):
            try:
                ready.append((path, future.result()))
            except (OSError, ValueError, MemoryError) as exc:
                out.errors.append(_error(path, "read", exc))
    for s in range(0, len(ready), spec.batch_size):
        chunk = ready[s:s + spec.batch_size]
        try:
            results = estimator.predict_batch([rgb for _, rgb in chunk])
        except Exception:  # noqa: BLE001 (find the image that fails: one at a time below)
            results = None
        for n, (path, rgb) in enumerate(chunk):
            try:
                poses = results[n] if results is not None else estimator.predict_rgb(rgb)
            except (Exception, MemoryError) as exc:  # noqa: BLE001 (an error row; the run goes on)
                out.errors.append(_error(path, "predict", exc))
                continue
            out.poses.extend(pose_rows(path, 0, None, poses, model))
            out.items += 1
    return out


def _video(estimator: Any, task: Task, spec: RunSpec, model: str) -> TaskResult:
    out = TaskResult()
    path = task.paths[0]
    last = task.start - 1
    try:
        for result in iter_video(estimator, path, start=task.start, end=task.end, every=spec.every,
                                 track=spec.track, smooth=spec.smooth, redetect_every=30):
            out.poses.extend(pose_rows(path, result.index, result.time_s, result.poses, model))
            out.items += 1
            last = result.index
    except VideoReadError as exc:
        out.errors.append(_error(path, "read", exc, frame=last + 1))
    except (OSError, ValueError, MemoryError) as exc:
        out.errors.append(_error(path, "read" if out.items == 0 else "predict", exc,
                                 frame=None if out.items == 0 else last + 1))
    return out


def run_task(estimator: Any, task: Task, spec: RunSpec, model: str | None = None) -> TaskResult:
    """The rows of ``task`` (see the module docstring); ``model`` is the name written in the rows (default
    ``spec.model``). Never raises for a bad input: it becomes an error row."""
    name = spec.model if model is None else model
    if task.kind == "images":
        return _images(estimator, task, spec, name)
    if task.kind == "video":
        return _video(estimator, task, spec, name)
    raise ValueError(f"task {task.name}: unknown kind {task.kind!r}")
