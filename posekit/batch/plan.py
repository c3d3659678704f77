"""The plan of a ``posekit batch`` run: its settings (:class:`RunSpec`) and its tasks (:func:`plan_tasks`).

Images are cut, in their sorted order, into shards of ``shard_size``: one task and one Parquet file each. A video
is one task when tracking is on (track ids come from a tracker that has seen every earlier frame: splitting the
video would need an overlap-and-stitch pass, and the tracker's ids would still differ from a single pass), and is
cut into ranges of ``video_chunk`` frames that run in parallel when tracking is off (frames are then independent).
The plan is a pure function of the sorted inputs and the settings, so a rerun makes the same tasks with the same
names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from posekit.batch.inputs import InputItem
from posekit.io.video import VideoReader

__all__ = ["RunSpec", "Task", "plan_tasks"]


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run's results (two runs with different specs never share a folder).

    Attributes:
        model: registry name (:func:`posekit.pipelines.registry.build_estimator`).
        options: further estimator options (``backend``, ``detector``, ``precision``, ...), JSON-ready.
        batch_size: images per model call (:meth:`~posekit.PoseEstimator.predict_batch`, which batches the person
            crops of all of them). 1 by default: on CPU, BlazePose's batched landmark calls cost more per image
            than single ones (5.0 vs 5.8 images/s for two Ray actors on 2 cores, measured once); batches pay off
            where a device runs them in parallel.
        shard_size: images per task and per Parquet shard.
        track: track ids in videos (one task per video).
        smooth: video smoothing, ``None``, ``"one-euro"`` or ``"savgol"`` (implies ``track``).
        every: process every n-th video frame.
        video_chunk: frames per task of a video without tracking.
        max_pixels: larger images (width x height from the header) are an error row, not decoded.
        threads: compute threads of each worker (the local process or each Ray actor, which then takes as many
            CPUs). Part of the spec because float results depend on it in their last bits (up to 0.3 px on LSP
            images with BlazePose between 1 and 2 threads): with the same spec both engines write byte-identical
            shards.
    """

    model: str
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    shard_size: int = 64
    track: bool = True
    smooth: str | None = None
    every: int = 1
    video_chunk: int = 512
    max_pixels: int = 40_000_000
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("batch_size", "shard_size", "every", "video_chunk", "max_pixels", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.smooth not in (None, "one-euro", "savgol"):
            raise ValueError(f"smooth must be None, 'one-euro' or 'savgol', got {self.smooth!r}")
        if self.smooth is not None and not self.track:
            object.__setattr__(self, "track", True)  # smoothing is per track

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    """One unit of work: ``name`` (also its shard's file name), ``kind`` (``"images"`` or ``"video"``), the
    input paths, and for a video the frame range ``start <= index < end`` (``end`` None: to the end)."""

    name: str
    kind: str
    paths: tuple[str, ...]
    start: int = 0
    end: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "paths": list(self.paths), "start": self.start,
                "end": self.end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        return cls(data["name"], data["kind"], tuple(data["paths"]), int(data["start"]), data["end"])


def inputs_digest(items: list[InputItem]) -> str:
    """SHA-256 of the sorted input list (paths and kinds)."""
    text = json.dumps([[i.path, i.kind] for i in items])
    return hashlib.sha256(text.encode()).hexdigest()


def _frame_count(path: str) -> int | None:
    try:
        with VideoReader(path) as reader:
            return reader.frame_count
    except (OSError, ValueError):
        return None  # unreadable: one task, which reports the error


def plan_tasks(items: list[InputItem], spec: RunSpec) -> list[Task]:
    """The tasks of ``items`` (sorted, as :func:`~posekit.batch.inputs.expand_inputs` returns them)."""
    images = [i.path for i in items if i.kind == "image"]
    videos = [i.path for i in items if i.kind == "video"]
    tasks = [Task(f"images-{n:05d}", "images", tuple(images[s:s + spec.shard_size]))
             for n, s in enumerate(range(0, len(images), spec.shard_size))]
    for v, path in enumerate(videos):
        count = None if spec.track else _frame_count(path)
        if count is None or count <= spec.video_chunk:
            tasks.append(Task(f"video-{v:05d}", "video", (path,)))
            continue
        step = spec.video_chunk - spec.video_chunk % spec.every or spec.every  # ranges keep the every-n grid
        for r, start in enumerate(range(0, count, step)):
            end = start + step if start + step < count else None
            tasks.append(Task(f"video-{v:05d}-r{r:04d}", "video", (path,), start, end))
    return tasks
