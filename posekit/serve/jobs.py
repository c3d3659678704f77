"""Background video jobs of ``posekit serve`` (:class:`JobManager`): one folder per job, run one at a time.

Life of a job: :meth:`JobManager.create` makes its folder (``<root>/<id>/``, ``id`` 32 random hex digits), the
upload streams into it, :meth:`JobManager.submit` queues it (503 when ``max_jobs`` are queued or running), a single
worker thread runs :func:`posekit.video.run_video` on it (tracking, smoothing) and writes, in the same folder,
``poses.jsonl``, ``poses.csv``, ``annotated.mp4`` (or ``.webm``) and ``summary.json`` (the run and, for one
tracked person, ``posekit analyze``'s angles/repetitions/gait summary); the uploaded video is deleted when it is
done. :meth:`JobManager.cancel` stops a running job after its current frame (and deletes its folder); finished jobs
expire ``job_ttl_s`` after they end and their folders are deleted; :meth:`JobManager.shutdown` deletes the root.
Results are ephemeral: a restart starts with no jobs.

Only the job's folder is ever written, and only under fixed names: ids are checked against their pattern before
any path is built, and a file is served only by one of the names in :data:`RESULT_FILES`.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.serve.limits import ApiError

__all__ = ["RESULT_FILES", "Job", "JobManager", "VideoOptions"]

RESULT_FILES = {"jsonl": "poses.jsonl", "csv": "poses.csv", "summary": "summary.json"}
"""Result kind -> file name in the job folder (the annotated video is ``annotated.<format>``)."""
VIDEO_FORMATS = {"mp4": "mp4v", "webm": "VP80"}
"""Annotated video container -> FourCC (WebM/VP8 plays in browsers; MPEG-4 Part 2 in any OpenCV build)."""
_ID = re.compile(r"[0-9a-f]{32}")


class Cancelled(Exception):
    """Raised inside a running job when it is cancelled (stops :func:`run_video` after the current frame)."""


@dataclass(frozen=True)
class VideoOptions:
    """What to run on a video: model cache key, tracking, smoothing (``None``/``"one-euro"``/``"savgol"``), every
    n-th frame, annotated video ``format`` (``mp4``/``webm``), keypoint threshold for drawing."""

    model: tuple[str, str | None]
    track: bool = True
    smooth: str | None = "one-euro"
    every: int = 1
    format: str = "mp4"
    kpt_thr: float = 0.3


@dataclass
class Job:
    """One job's state (read under the manager's lock; :meth:`JobManager.describe` gives the JSON)."""

    id: str
    folder: Path
    created_s: float
    options: VideoOptions | None = None
    video: Path | None = None
    status: str = "receiving"  # receiving -> queued -> running -> done | failed | cancelled
    frames: int = 0
    total: int | None = None
    error: dict | None = None
    warning: str | None = None
    summary: dict | None = None
    finished_s: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


class JobManager:
    """The jobs of one app. ``run(job, on_frame)`` does the work of a job (called in the worker thread; see
    :func:`posekit.serve.videos.run_job`); ``on_frame(frames, total)`` raises :class:`Cancelled` once cancelled."""

    def __init__(self, *, run: Callable[[Job, Callable[[int, int | None], None]], dict], max_jobs: int,
                 ttl_s: float, retry_after_s: int, root: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="posekit-serve-jobs-", dir=root))
        self._run, self._max_jobs, self._ttl_s = run, max_jobs, ttl_s
        self._retry_after = str(retry_after_s)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="posekit-serve-jobs", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ lifecycle of one job

    def create(self) -> Job:
        """A new job with its empty folder (status ``receiving``); 503 when ``max_jobs`` are active."""
        self.expire()
        with self._lock:
            active = sum(j.status in ("receiving", "queued", "running") for j in self._jobs.values())
            if active >= self._max_jobs:
                raise ApiError(503, "too_many_jobs", f"{active} video jobs are queued or running (the limit is "
                                                     f"{self._max_jobs}); retry later",
                               {"Retry-After": self._retry_after})
            job_id = secrets.token_hex(16)
            folder = self.root / job_id
            folder.mkdir()
            job = Job(job_id, folder, time.time())
            self._jobs[job_id] = job
        return job

    def submit(self, job: Job, video: Path, options: VideoOptions, total: int | None) -> None:
        """Queue ``job`` (its upload is in ``video``)."""
        with self._lock:
            job.video, job.options, job.total, job.status = video, options, total, "queued"
        self._queue.put(job)

    def discard(self, job: Job) -> None:
        """Forget a job whose upload failed, and delete its folder."""
        with self._lock:
            self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; 404 ``job_not_found`` for a malformed, unknown, expired or deleted id."""
        self.expire()
        with self._lock:
            job = self._jobs.get(job_id) if _ID.fullmatch(job_id) else None
        if job is None:
            raise ApiError(404, "job_not_found", f"no video job {job_id!r} (unknown, expired or deleted; results "
                                                 f"are kept {self._ttl_s:g} s after a job ends)")
        return job

    def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job, or delete a finished one (its folder goes either way); returns
        ``"cancelled"`` or ``"deleted"``."""
        job = self.get(job_id)
        with self._lock:
            active = job.status in ("receiving", "queued", "running")
            job.cancel.set()
            if job.status != "running":  # a running job's folder is deleted by the worker when it stops
                self._jobs.pop(job.id, None)
                shutil.rmtree(job.folder, ignore_errors=True)
            if active:
                job.status, job.finished_s = "cancelled", time.time()
        return "cancelled" if active else "deleted"

    def describe(self, job: Job) -> dict[str, Any]:
        """The JSON of ``GET /v1/jobs/{id}``."""
        with self._lock:
            fraction = None if not job.total else min(1.0, job.frames / job.total)
            files = None
            if job.status == "done":
                names = {**RESULT_FILES, "video": f"annotated.{job.options.format}"}  # type: ignore[union-attr]
                files = {kind: f"/v1/jobs/{job.id}/files/{name}" for kind, name in names.items()
                         if (job.folder / name).exists()}
            return {
                "id": job.id, "status": job.status, "model": None if job.options is None else job.options.model[0],
                "progress": {"frames": job.frames, "total": job.total, "fraction": fraction},
                "error": job.error, "warning": job.warning, "created_s": round(job.created_s, 3),
                "expires_s": None if job.finished_s is None else round(job.finished_s + self._ttl_s, 3),
                "files": files, "summary": job.summary,
            }

    def result_file(self, job_id: str, name: str) -> Path:
        """The path of result ``name`` of a finished job; 404 for any other name or a job not done."""
        job = self.get(job_id)
        allowed = {*RESULT_FILES.values(), *(f"annotated.{f}" for f in VIDEO_FORMATS)}
        path = job.folder / name if name in allowed else None
        if job.status != "done" or path is None or not path.is_file():
            raise ApiError(404, "file_not_found", f"job {job_id} has no file {name!r} (status {job.status}; files: "
                                                  f"GET /v1/jobs/{job_id})")
        return path

    # ------------------------------------------------------------------ the worker, expiry, shutdown

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                if job.cancel.is_set():
                    continue
                job.status = "running"

            def on_frame(frames: int, total: int | None, job: Job = job) -> None:
                job.frames = frames
                if total is not None:
                    job.total = total
                if job.cancel.is_set():
                    raise Cancelled

            try:
                summary = self._run(job, on_frame)
            except Cancelled:
                shutil.rmtree(job.folder, ignore_errors=True)
                continue
            except ApiError as exc:
                self._finish(job, "failed", error=exc.body()["error"])
            except Exception as exc:  # noqa: BLE001 (a failed job is reported in its status, the worker goes on)
                self._finish(job, "failed", error={"code": "job_failed", "message": f"{type(exc).__name__}: {exc}"})
            else:
                self._finish(job, "done", summary=summary)
            finally:
                if job.video is not None:
                    job.video.unlink(missing_ok=True)

    def _finish(self, job: Job, status: str, *, error: dict | None = None, summary: dict | None = None) -> None:
        with self._lock:
            if job.cancel.is_set():  # cancelled after its last frame: delete as cancel() promised
                shutil.rmtree(job.folder, ignore_errors=True)
                return
            job.status, job.error, job.summary, job.finished_s = status, error, summary, time.time()
            if summary is not None and summary.get("video", {}).get("error"):
                job.warning = summary["video"]["error"]
            if summary is not None:
                (job.folder / RESULT_FILES["summary"]).write_text(json.dumps(summary, indent=2))

    def expire(self, now: float | None = None) -> int:
        """Delete the finished jobs older than ``job_ttl_s``; returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished_s is not None and now - j.finished_s > self._ttl_s]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(old)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel every job, stop the worker and delete all job folders."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._queue.put(None)
        self._worker.join(timeout=timeout_s)
        shutil.rmtree(self.root, ignore_errors=True)
