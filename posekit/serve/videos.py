"""The video endpoints of ``posekit serve`` and the work of one job (:func:`run_job`).

* ``POST /v1/videos``: a video (multipart field ``video`` or the raw body; MP4/MOV, AVI, WebM/MKV by content) ->
  202 with the job (``GET`` it at the ``Location`` header); query ``model``, ``detector``, ``track``, ``smooth``
  (``none``, ``one-euro``, ``savgol``), ``every``, ``format`` (``mp4`` or ``webm``: the annotated video; WebM/VP8
  plays in browsers), ``kpt_thr``.
* ``GET /v1/jobs/{id}``: status (``receiving``, ``queued``, ``running``, ``done``, ``failed``, ``cancelled``),
  progress in frames, the result URLs when done, the summary.
* ``GET /v1/jobs/{id}/files/{name}``: ``poses.jsonl`` (one :meth:`~posekit.types.FrameResult.to_json` per frame),
  ``poses.csv`` (:data:`posekit.video.runner.CSV_COLUMNS`), ``annotated.mp4`` / ``annotated.webm``,
  ``summary.json``.
* ``DELETE /v1/jobs/{id}``: cancel a queued or running job, or delete a finished one; its folder is deleted.

Coordinates in the results are pixels of the source frames (x right, y down), times ``frame / fps`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.requests import ClientDisconnect

from posekit.analysis.report import analyze_results, summary
from posekit.io.video import VideoReader
from posekit.serve.jobs import (
    RESULT_FILES,
    VIDEO_FORMATS,
    Job,
    JobManager,
    VideoOptions,
)
from posekit.serve.limits import ApiError
from posekit.serve.models import ModelCache
from posekit.serve.schema import JOB_RESPONSES, VIDEO_BODY
from posekit.serve.uploads import receive_video
from posekit.video.runner import run_video

__all__ = ["add_video_routes", "run_job"]

SMOOTHERS = {"none": None, "one-euro": "one-euro", "savgol": "savgol"}


def run_job(models: ModelCache, job: Job, on_frame: Callable[[int, int | None], None]) -> dict[str, Any]:
    """Run the job's video through its model (worker thread); writes the result files into the job folder and
    returns the summary: ``{"video": {frames, persons, track_ids, fps, seconds, error}, "analysis": posekit
    analyze's summary of the most-seen person or None, "analysis_error": why not or None}``.

    Raises:
        ApiError: 422 ``bad_video`` when not one frame could be decoded.
    """
    options, folder = job.options, job.folder
    assert options is not None and job.video is not None
    estimator = models.get(options.model)
    report = run_video(estimator, job.video, out=folder / f"annotated.{options.format}",
                       json_path=folder / RESULT_FILES["jsonl"], csv_path=folder / RESULT_FILES["csv"],
                       every=options.every, track=options.track, smooth=options.smooth, kpt_thr=options.kpt_thr,
                       codec=VIDEO_FORMATS[options.format], progress=False, on_frame=on_frame)
    if report.frames == 0:
        raise ApiError(422, "bad_video", f"no frame of the video could be decoded ({report.error or 'empty'})")
    timing = report.timing
    out: dict[str, Any] = {
        "video": {"frames": report.frames, "persons": report.persons, "track_ids": list(report.track_ids),
                  "fps": timing["fps"], "seconds": timing["total_s"], "error": report.error},
        "analysis": None, "analysis_error": None}
    try:
        analysis = analyze_results(folder / RESULT_FILES["jsonl"])
    except ValueError as exc:
        out["analysis_error"] = str(exc).replace(str(folder) + "/", "")
    else:
        out["analysis"] = {k: v for k, v in summary(analysis).items() if k != "source"}
    return out


def _probe(path: Any, every: int) -> int | None:
    """Frames the run will process; 400 ``bad_video`` when OpenCV cannot open the file."""
    try:
        with VideoReader(path, every=every) as reader:
            count = reader.frame_count
    except (ValueError, OSError) as exc:
        raise ApiError(400, "bad_video", f"cannot read the video: {str(exc).replace(str(path), 'the upload')}"
                       ) from None
    return None if count is None else -(-count // every)


def add_video_routes(app: FastAPI, manager: Callable[[], JobManager | None], models: ModelCache,
                     max_video_bytes: int, idle_s: float) -> None:
    """Register the video endpoints (see the module docstring) on ``app``; ``manager()`` is the app's
    :class:`JobManager` (made when the app starts)."""

    def jobs() -> JobManager:
        current = manager()
        if current is None:
            raise ApiError(503, "not_ready", "the server is starting; retry shortly", {"Retry-After": "1"})
        return current

    @app.post("/v1/videos", status_code=202, openapi_extra=VIDEO_BODY, tags=["videos"], responses=JOB_RESPONSES)
    async def submit_video(
        request: Request,
        model: str | None = Query(None, description="Model (GET /v1/models) [default: the server's]."),
        detector: str | None = Query(None, description="Person detector of top-down models."),
        track: bool = Query(True, description="Persistent ids across frames."),
        smooth: str = Query("one-euro", pattern="^(none|one-euro|savgol)$", description="Smoothing."),
        every: int = Query(1, ge=1, le=1000, description="Process every n-th frame."),
        format: str = Query("mp4", pattern="^(mp4|webm)$", description="Annotated video container."),
        kpt_thr: float = Query(0.3, ge=0.0, le=1.0, description="Keypoints below are not drawn."),
    ) -> Any:
        """Start a video job (tracking, smoothing, annotated video, analytics)."""
        options = VideoOptions(model=models.resolve(model, detector), track=track, smooth=SMOOTHERS[smooth],
                               every=every, format=format, kpt_thr=kpt_thr)
        job = jobs().create()
        try:
            video = await receive_video(request, job.folder, max_video_bytes, idle_s)
            total = await asyncio.to_thread(_probe, video, every)
        except ClientDisconnect:
            jobs().discard(job)
            return JSONResponse({"error": {"code": "client_disconnected", "message": "upload interrupted"}}, 400)
        except BaseException:  # refused or cancelled mid-upload: no folder stays behind
            jobs().discard(job)
            raise
        jobs().submit(job, video, options, total)
        return JSONResponse(jobs().describe(job.id), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    @app.get("/v1/jobs/{job_id}", tags=["videos"], responses=JOB_RESPONSES)
    async def get_job(job_id: str) -> Any:
        """A job's status, progress and (when done) result URLs and summary."""
        return JSONResponse(jobs().describe(job_id))

    @app.get("/v1/jobs/{job_id}/files/{name}", tags=["videos"], response_class=FileResponse,
             responses=JOB_RESPONSES)
    async def job_file(job_id: str, name: str) -> Any:
        """One result file of a finished job."""
        path = jobs().result_file(job_id, name)
        media = {"jsonl": "application/x-ndjson", "csv": "text/csv", "json": "application/json",
                 "mp4": "video/mp4", "webm": "video/webm"}[path.suffix.lstrip(".")]
        return FileResponse(path, media_type=media, filename=path.name)

    @app.delete("/v1/jobs/{job_id}", tags=["videos"], responses=JOB_RESPONSES)
    async def delete_job(job_id: str) -> Any:
        """Cancel a queued or running job, or delete a finished one (its files go either way)."""
        return JSONResponse({"id": job_id, "status": jobs().cancel(job_id)})
