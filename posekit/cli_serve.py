"""``posekit serve``: the HTTP service of :mod:`posekit.serve` (FastAPI app run by uvicorn).

FastAPI and uvicorn are the optional extra ``posekit[serve]``; they are imported only when the command runs, so
``posekit --help`` works without them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import (
    DEFAULT_MODEL,
    Backend,
    DetectorName,
    Device,
    Threads,
    configure_threads,
    detector_options,
    fail,
    model_entry,
)

__all__ = ["serve"]

MISSING_EXTRA = "posekit serve needs the serve extra: pip install 'posekit[serve]'"


def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes, each with its own copy of the model.")] = 1,
    api_key: Annotated[Optional[str], typer.Option(
        "--api-key", envvar="POSEKIT_API_KEY", show_envvar=True,
        help="Require this key (header X-API-Key or Authorization: Bearer) on every endpoint but /healthz and "
             "/readyz [default: no key].")] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload in MB (2**20 bytes); larger: "
                                                                 "413.")] = 10.0,
    max_pixels: Annotated[int, typer.Option(
        min=1, help="Largest image (width x height, read from the header before decoding); larger: 413.")
    ] = 40_000_000,
    max_queue: Annotated[int, typer.Option(
        min=0, help="Requests that may wait for inference; more get 503 with Retry-After.")] = 16,
    concurrency: Annotated[int, typer.Option(min=1, help="Inference requests running at once (threads sharing "
                                                         "the model).")] = 1,
    timeout_s: Annotated[float, typer.Option(min=0.001, help="Seconds a request may take (waiting + running); "
                                                             "longer: 504.")] = 30.0,
    cors_origin: Annotated[Optional[list[str]], typer.Option(
        "--cors-origin", help="Allow browser requests from this origin (repeat; '*' for any) [default: CORS "
                              "off].")] = None,
    allow_model: Annotated[Optional[list[str]], typer.Option(
        "--allow-model", help="A model requests may pick with ?model= (repeat) [default: every body model whose "
                              "weights are offline].")] = None,
    max_models: Annotated[int, typer.Option(min=1, help="Models kept loaded at once (least recently used "
                                                        "dropped first, never --model).")] = 4,
    max_video_mb: Annotated[float, typer.Option(min=0.001, help="Largest video upload in MB; larger: 413.")
                            ] = 200.0,
    max_jobs: Annotated[int, typer.Option(min=1, help="Video jobs queued or running at once; more: 503.")] = 4,
    job_ttl_s: Annotated[float, typer.Option(min=1.0, help="Seconds a finished video job's results are kept "
                                                           "(they are also deleted when the server stops).")
                         ] = 3600.0,
    jobs_dir: Annotated[Optional[Path], typer.Option(
        help="Folder for the per-job temporary folders [default: the system's temp folder].")] = None,
    detector: DetectorName = None,
    device: Device = "cpu",
    backend: Backend = "torch",
    threads: Threads = None,
) -> None:
    """Serve pose estimation over HTTP: a web page at /, POST an image to /v1/poses (JSON) or /v1/poses:render
    (drawn image), a video to /v1/videos (a background job: GET /v1/jobs/ID).

    The API description is at /docs and /openapi.json. The model loads once per worker process at start-up;
    /readyz answers 200 once it is loaded. Video job results are ephemeral (kept --job-ttl-s, lost on restart).
    """
    try:
        import uvicorn

        from posekit.serve import ServeConfig, create_app
    except ImportError as exc:
        fail(f"{MISSING_EXTRA} ({exc})")
    for name in (model, *(allow_model or ())):
        model_entry(name)
    if jobs_dir is not None and not jobs_dir.is_dir():
        fail(f"--jobs-dir {jobs_dir}: no such folder")
    try:
        config = ServeConfig(model=model, backend=backend, device=device,
                             options=detector_options(detector, None), api_key=api_key or None,
                             max_upload_bytes=round(max_upload_mb * 2**20), max_pixels=max_pixels,
                             max_queue=max_queue, concurrency=concurrency, timeout_s=timeout_s,
                             cors_origins=tuple(cors_origin or ()), models=tuple(allow_model or ()),
                             max_models=max_models, max_video_bytes=round(max_video_mb * 2**20),
                             max_jobs=max_jobs, job_ttl_s=job_ttl_s,
                             jobs_dir=None if jobs_dir is None else str(jobs_dir))
    except ValueError as exc:
        fail(str(exc))
    if workers == 1:
        configure_threads(threads)
        uvicorn.run(create_app(config), host=host, port=port, log_level="info")
        return
    from posekit.serve.app import CONFIG_ENV

    # The worker processes share one jobs folder (a job's state is a file in it), so any of them answers for any
    # video job; without --jobs-dir it is a temporary folder deleted when the server stops.
    shared = None if jobs_dir is not None else tempfile.mkdtemp(prefix="posekit-serve-jobs-")
    fields = {**asdict(config), "threads": threads, "jobs_dir": shared or config.jobs_dir}
    os.environ[CONFIG_ENV] = json.dumps(fields)
    try:
        uvicorn.run("posekit.serve.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="info")
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
