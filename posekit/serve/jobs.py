"""Background video jobs of ``posekit serve`` (:class:`JobManager`): one folder per job, its state in a file.

Life of a job: :meth:`JobManager.create` makes its folder (``<root>/<id>/``, ``id`` 32 random hex digits) with
``job.json`` (status ``receiving``); the upload streams into it; :meth:`JobManager.submit` queues it (status
``queued``); the process's worker thread runs :func:`posekit.serve.videos.run_job` (status ``running``, progress
written twice a second), which writes ``poses.jsonl``, ``poses.csv``, ``annotated.mp4`` (or ``.webm``); the job
ends ``done`` (with ``summary.json``), ``failed`` (with an error code and message) or ``cancelled``, and the
uploaded video is deleted.

The state lives in the folder, not in memory, so every worker process of ``posekit serve --workers N`` (they share
the root) answers for every job, and with a fixed ``--jobs-dir`` finished results survive a restart until they
expire. Cancelling (:meth:`JobManager.cancel`) drops a ``cancel`` file that the owner checks after every frame; a
cancelled job keeps only its ``job.json`` until it expires. Finished jobs expire ``job_ttl_s`` after they end
(folder deleted). Without ``jobs_dir`` the root is a temporary folder deleted when the server stops: results are
then ephemeral. Jobs left ``queued``/``running`` by a process that is gone are marked ``failed`` (``interrupted``).

Only files in a job's folder are ever written, and only under fixed names: ids are checked against their pattern
before any path is built, and a file is served only by one of the names in :data:`RESULT_FILES`.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from posekit.io.atomic import atomic_writer
from posekit.serve.limits import ApiError

__all__ = ["RESULT_FILES", "VIDEO_FORMATS", "Cancelled", "Job", "JobManager", "VideoOptions"]

RESULT_FILES = {"jsonl": "poses.jsonl", "csv": "poses.csv", "summary": "summary.json"}
"""Result kind -> file name in the job folder (the annotated video is ``annotated.<format>``)."""
VIDEO_FORMATS = {"mp4": "mp4v", "webm": "VP80"}
"""Annotated video container -> FourCC (WebM/VP8 plays in browsers; MPEG-4 Part 2 in any OpenCV build)."""
ACTIVE = ("receiving", "queued", "running")
STATE, CANCEL = "job.json", "cancel"
PROGRESS_EVERY_S = 0.5
_ID = re.compile(r"[0-9a-f]{32}")


class Cancelled(Exception):
    """Raised inside a running job once it is cancelled (stops :func:`run_video` after the current frame)."""


@dataclass(frozen=True)
class VideoOptions:
    """What to run on a video: model cache key ``(model, detector)``, tracking, smoothing (``None``,
    ``"one-euro"``, ``"savgol"``), every n-th frame, annotated video ``format`` (``mp4``/``webm``), keypoint
    threshold for drawing."""

    model: tuple[str, str | None]
    track: bool = True
    smooth: str | None = "one-euro"
    every: int = 1
    format: str = "mp4"
    kpt_thr: float = 0.3


@dataclass
class Job:
    """A job as its owner process holds it: folder, options, the uploaded file, frames expected."""

    id: str
    folder: Path
    options: VideoOptions | None = None
    video: Path | None = None
    total: int | None = None


class JobManager:
    """The video jobs under one root folder. ``run(job, on_frame)`` does a job's work in this process's worker
    thread and returns its summary; ``on_frame(frames, total)`` records progress and raises :class:`Cancelled`."""

    def __init__(self, *, run: Callable[[Job, Callable[[int, int | None], None]], dict], max_jobs: int,
                 ttl_s: float, retry_after_s: int, root: str | os.PathLike | None = None) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="posekit-serve-jobs-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._run, self._max_jobs, self._ttl_s = run, max_jobs, ttl_s
        self._retry_after = str(retry_after_s)
        self._stopping = threading.Event()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._mark_interrupted()
        self.expire()
        self._worker = threading.Thread(target=self._work, name="posekit-serve-jobs", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ state files

    def _folder(self, job_id: str) -> Path | None:
        return self.root / job_id if _ID.fullmatch(job_id) else None

    @staticmethod
    def _read(folder: Path) -> dict | None:
        try:
            return json.loads((folder / STATE).read_text())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _write(folder: Path, state: dict) -> None:
        with atomic_writer(folder / STATE) as f:
            f.write(json.dumps(state).encode())

    def _update(self, folder: Path, **changes: Any) -> dict:
        state = {**(self._read(folder) or {}), **changes}
        self._write(folder, state)
        return state

    def _states(self) -> Iterator[tuple[Path, dict]]:
        for folder in self.root.iterdir():
            state = self._read(folder) if _ID.fullmatch(folder.name) else None
            if state is not None:
                yield folder, state

    @staticmethod
    def _status(folder: Path, state: dict) -> str:
        cancelled = state["status"] in ACTIVE and (folder / CANCEL).exists()
        return "cancelled" if cancelled else state["status"]

    # ------------------------------------------------------------------ lifecycle of one job

    def create(self) -> Job:
        """A new job with its folder (status ``receiving``); 503 ``too_many_jobs`` when ``max_jobs`` are active."""
        self.expire()
        active = sum(self._status(f, s) in ACTIVE for f, s in self._states())
        if active >= self._max_jobs:
            raise ApiError(503, "too_many_jobs", f"{active} video jobs are queued or running (the limit is "
                                                 f"{self._max_jobs}); retry later", {"Retry-After": self._retry_after})
        job = Job(secrets.token_hex(16), Path())
        job.folder = self.root / job.id
        job.folder.mkdir()
        self._write(job.folder, {"id": job.id, "status": "receiving", "pid": os.getpid(), "options": None,
                                 "frames": 0, "total": None, "error": None, "warning": None,
                                 "created_s": time.time(), "finished_s": None, "summary": None})
        return job

    def submit(self, job: Job, video: Path, options: VideoOptions, total: int | None) -> None:
        """Queue ``job``, whose upload is ``video``."""
        job.video, job.options, job.total = video, options, total
        self._update(job.folder, status="queued", options=asdict(options), total=total)
        self._queue.put(job)

    def discard(self, job: Job) -> None:
        """Delete a job whose upload failed."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def get(self, job_id: str) -> tuple[Path, dict]:
        """``(folder, state)`` of job ``job_id``; 404 ``job_not_found`` for a malformed, unknown, expired or
        deleted id."""
        self.expire()
        folder = self._folder(job_id)
        state = None if folder is None else self._read(folder)
        if folder is None or state is None:
            raise ApiError(404, "job_not_found", f"no video job {job_id!r} (unknown, expired or deleted; results "
                                                 f"are kept {self._ttl_s:g} s after a job ends)")
        return folder, state

    def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job (``"cancelled"``: its owner stops after the current frame and deletes
        its files) or delete an ended one (``"deleted"``: its folder goes)."""
        folder, state = self.get(job_id)
        if state["status"] in ACTIVE:
            (folder / CANCEL).touch()
            return "cancelled"
        shutil.rmtree(folder, ignore_errors=True)
        return "deleted"

    def describe(self, job_id: str) -> dict[str, Any]:
        """The JSON of ``GET /v1/jobs/{id}``."""
        folder, state = self.get(job_id)
        status, total = self._status(folder, state), state["total"]
        options = state["options"] or {}
        files = None
        if status == "done":
            names = {**RESULT_FILES, "video": f"annotated.{options.get('format', 'mp4')}"}
            files = {kind: f"/v1/jobs/{job_id}/files/{name}" for kind, name in names.items()
                     if (folder / name).is_file()}
        finished = state["finished_s"]
        return {
            "id": job_id, "status": status, "model": (options.get("model") or [None])[0],
            "progress": {"frames": state["frames"], "total": total,
                         "fraction": None if not total else min(1.0, state["frames"] / total)},
            "error": state["error"], "warning": state["warning"], "created_s": round(state["created_s"], 3),
            "expires_s": None if finished is None else round(finished + self._ttl_s, 3), "files": files,
            "summary": state["summary"],
        }

    def counts(self) -> dict[str, int]:
        """Jobs under the root by status (every status, zeros included)."""
        out = dict.fromkeys((*ACTIVE, "done", "failed", "cancelled"), 0)
        for folder, state in self._states():
            out[self._status(folder, state)] += 1
        return out

    def result_file(self, job_id: str, name: str) -> Path:
        """The path of result ``name`` of a finished job; 404 ``file_not_found`` for any other name or a job not
        done."""
        folder, state = self.get(job_id)
        allowed = {*RESULT_FILES.values(), *(f"annotated.{f}" for f in VIDEO_FORMATS)}
        path = folder / name if name in allowed else None
        if state["status"] != "done" or path is None or not path.is_file():
            raise ApiError(404, "file_not_found", f"job {job_id} has no file {name!r} (status {state['status']}; "
                                                  f"its files: GET /v1/jobs/{job_id})")
        return path

    # ------------------------------------------------------------------ the worker

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self._queue.get(timeout=30.0)
            except queue.Empty:
                self.expire()
                continue
            if job is None:
                return
            self._run_one(job)

    def _run_one(self, job: Job) -> None:
        folder, cancel_file = job.folder, job.folder / CANCEL
        if cancel_file.exists() or self._stopping.is_set():
            self._end(job, "cancelled")
            return
        self._update(folder, status="running")
        last = [0.0]

        def on_frame(frames: int, total: int | None) -> None:
            if cancel_file.exists() or self._stopping.is_set():
                raise Cancelled
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or frames == total:
                last[0] = now
                self._update(folder, frames=frames, total=total if total is not None else job.total)

        try:
            summary = self._run(job, on_frame)
        except Cancelled:
            self._end(job, "cancelled")
        except ApiError as exc:
            self._end(job, "failed", error=exc.body()["error"])
        except Exception as exc:  # noqa: BLE001 (a failed job is reported in its state, the worker goes on)
            self._end(job, "failed", error={"code": "job_failed", "message": f"{type(exc).__name__}: {exc}"})
        else:
            self._end(job, "done", summary=summary)

    def _end(self, job: Job, status: str, *, error: dict | None = None, summary: dict | None = None) -> None:
        folder = job.folder
        if job.video is not None:
            job.video.unlink(missing_ok=True)
        if status == "done" and (folder / CANCEL).exists():
            status = "cancelled"  # cancelled after its last frame: its files go, as cancel() promised
        if status == "cancelled" and self._stopping.is_set() and not (folder / CANCEL).exists():
            status, error = "failed", {"code": "interrupted", "message": "the server stopped while the job ran"}
        if status != "done":
            _keep_state_only(folder)
        changes: dict[str, Any] = {"status": status, "error": error, "finished_s": time.time()}
        if summary is not None:
            (folder / RESULT_FILES["summary"]).write_text(json.dumps(summary, indent=2))
            changes.update(summary=summary, warning=summary.get("video", {}).get("error"),
                           frames=summary.get("video", {}).get("frames", 0))
        self._update(folder, **changes)

    # ------------------------------------------------------------------ expiry, recovery, shutdown

    def expire(self, now: float | None = None) -> int:
        """Delete the jobs that ended more than ``job_ttl_s`` ago; returns how many."""
        now = time.time() if now is None else now
        old = [f for f, s in self._states() if s["finished_s"] is not None and now - s["finished_s"] > self._ttl_s]
        for folder in old:
            shutil.rmtree(folder, ignore_errors=True)
        return len(old)

    def _mark_interrupted(self) -> None:
        """Jobs still active whose owner process is gone (a crash or restart) end as ``failed``."""
        for folder, state in self._states():
            if state["status"] in ACTIVE and not _alive(state.get("pid")):
                _keep_state_only(folder)
                self._update(folder, status="failed", finished_s=time.time(), error={
                    "code": "interrupted", "message": "the server stopped before the job ended; submit it again"})

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Stop the worker (a running job stops after its current frame and ends ``failed``/``interrupted``); a
        temporary root is deleted with every job in it, a given ``jobs_dir`` keeps the finished ones."""
        self._stopping.set()
        self._queue.put(None)
        self._worker.join(timeout=timeout_s)
        while True:  # jobs queued but never started
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._end(job, "cancelled")
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _keep_state_only(folder: Path) -> None:
    """Delete every file of a job folder but its ``job.json`` (the upload, partial results, the cancel marker)."""
    for path in folder.iterdir():
        if path.name != STATE:
            path.unlink(missing_ok=True)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
