"""The HTTP service: :func:`create_app` builds a FastAPI app from a :class:`~posekit.serve.config.ServeConfig`.

Endpoints (OpenAPI schema at ``/openapi.json``, docs at ``/docs``):

* ``GET /``: the web page (``static/``: plain HTML/CSS/JS served by posekit itself, no CDN).
* ``POST /v1/poses``: an image (multipart field ``image`` or the raw body; JPEG/PNG/WebP by content) -> JSON
  (:class:`~posekit.serve.schema.PosesResponse`); query ``model`` / ``detector`` (:mod:`posekit.serve.models`),
  ``skeleton=NAME`` (convert, e.g. ``coco17``) and ``min_score`` (drop instances whose COCO score is lower).
* ``POST /v1/poses:render``: the same upload -> the image with the skeletons drawn (PNG, or JPEG with
  ``format=jpeg``).
* ``POST /v1/videos``, ``GET``/``DELETE /v1/jobs/{id}``, ``GET /v1/jobs/{id}/files/{name}``: background video
  jobs (:mod:`posekit.serve.videos`, :mod:`posekit.serve.jobs`).
* ``GET /v1/models``, ``GET /healthz`` (process up), ``GET /readyz`` (503 until the model is loaded),
  ``GET /metrics`` (Prometheus text).

The served model loads once per process, in a thread started by the lifespan handler (so ``/healthz`` answers while
it loads); other models load on their first request; all are shared by the ``concurrency`` inference threads of a
:class:`~posekit.serve.inference.BoundedPool` (a bounded queue: 503 beyond it). Errors are JSON ``{"error":
{"code", "message"}}``. No global state: each app holds its own models, pool, jobs and metrics.
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from posekit import __version__, skeletons
from posekit.models.registry import get_entry
from posekit.pipelines.registry import estimator_entry
from posekit.runtime.threads import configure_threads
from posekit.serve.config import ServeConfig
from posekit.serve.inference import (
    BoundedPool,
    decode_image,
    encode_image,
    poses_payload,
    skeleton_payload,
    timed,
)
from posekit.serve.jobs import JobManager
from posekit.serve.limits import ApiError, check_api_key, check_upload
from posekit.serve.metrics import Metrics
from posekit.serve.models import Key, ModelCache
from posekit.serve.schema import UPLOAD_BODY, ErrorBody, ModelsResponse, PosesResponse
from posekit.serve.uploads import read_image
from posekit.serve.videos import add_video_routes, run_job
from posekit.types import Poses
from posekit.viz import draw

__all__ = ["CONFIG_ENV", "app_from_env", "create_app"]

CONFIG_ENV = "POSEKIT_SERVE_CONFIG"
"""Environment variable holding the JSON of a :class:`ServeConfig` for :func:`app_from_env` (``--workers N``)."""
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs", "/openapi.json", "/docs/oauth2-redirect"})
"""Paths answered without the API key (the web page, probes and the API description; also ``/static/...``)."""
STATIC = Path(__file__).parent / "static"
"""The web page's files (plain HTML/CSS/JS, served by posekit itself: no CDN, works offline)."""
Upload = tuple[bytes, str, tuple[int, int]]
"""A checked image upload: ``(bytes, type, (width, height))`` (:func:`posekit.serve.limits.check_upload`)."""
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (400, 401, 408, 413, 415, 503, 504)}


class _Service:
    """The per-app state: config, models (:class:`ModelCache`; the served one loaded by :meth:`load`), pool, video
    jobs and metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.models = ModelCache(config)
        self.load_error: str | None = None
        self.loaded = False
        self.pool: BoundedPool | None = None
        self.jobs: JobManager | None = None

    def load(self) -> None:
        try:
            self.models.get(self.models.default_key)
            self.loaded = True
            self.metrics.loaded = 1
        except ApiError as exc:  # /readyz reports it, the process stays up
            self.load_error = exc.message

    def ready(self) -> None:
        if self.loaded and self.pool is not None:
            return
        if self.load_error is not None:
            raise ApiError(503, "model_failed", f"the model failed to load: {self.load_error}")
        raise ApiError(503, "not_ready", f"the model {self.config.model} is loading; retry shortly",
                       {"Retry-After": str(self.config.retry_after_s)})


def _target_skeleton(name: str | None) -> skeletons.Skeleton | None:
    if name is None:
        return None
    skel = skeletons.named(name)
    if skel is None:
        raise ApiError(400, "bad_parameter", f"skeleton={name!r} is not a posekit skeleton (e.g. coco17, "
                                             f"blazepose33, h36m17)")
    return skel


def _select(poses: Poses, target: skeletons.Skeleton | None, min_score: float) -> Poses:
    if target is not None and target is not poses.skeleton:
        try:
            poses = poses.to_skeleton(target)
        except (KeyError, ValueError) as exc:
            raise ApiError(400, "bad_parameter", f"cannot convert {poses.skeleton.name} to {target.name}: "
                                                 f"{exc}") from None
    if min_score > 0 and len(poses):
        poses = poses[poses.instance_scores() >= min_score]
    return poses


def _infer(service: _Service, upload: Upload, key: Key, target: Any, min_score: float
           ) -> tuple[np.ndarray, Poses, float, float]:
    """Worker thread: decode, run the model ``key`` (built on its first use), convert -> ``(rgb, poses, decode ms,
    inference ms)``."""
    if service.config.delay_s:
        time.sleep(service.config.delay_s)
    estimator = service.models.get(key)
    rgb, decode_ms = timed(decode_image, *upload)
    try:
        poses, infer_ms = timed(estimator.predict_rgb, rgb)
    except Exception as exc:  # noqa: BLE001 (reported as a JSON 500, the server keeps serving)
        raise ApiError(500, "inference_failed", f"{key[0]} failed on this image: {type(exc).__name__}: {exc}"
                       ) from None
    return rgb, _select(poses, target, min_score), decode_ms, infer_ms


def _render(service: _Service, upload: Upload, key: Key, target: Any, min_score: float, fmt: str,
            kpt_thr: float) -> bytes:
    rgb, poses, _, _ = _infer(service, upload, key, target, min_score)
    return encode_image(draw(rgb, poses, kpt_thr=kpt_thr), fmt)


def _install_handlers(app: FastAPI, service: _Service) -> None:
    def answer(error: ApiError) -> JSONResponse:
        service.metrics.error(error.code)
        return JSONResponse(error.body(), status_code=error.status, headers=dict(error.headers))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = ["{}: {}".format(".".join(str(p) for p in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return answer(ApiError(400, "bad_parameter", "; ".join(parts) or "invalid request"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return answer(ApiError(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}",
                               dict(exc.headers or {})))

    @app.middleware("http")
    async def guard_and_count(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        path = request.url.path
        if path in OPEN_PATHS or path.startswith("/static/") or request.method == "OPTIONS":
            response = await call_next(request)
        else:
            try:
                check_api_key(request.headers, service.config.api_key)
            except ApiError as exc:
                response = answer(exc)
            else:
                response = await call_next(request)
        route = request.scope.get("route")  # the matched route's template (e.g. /v1/jobs/{job_id}): bounded labels
        endpoint = "/static" if path.startswith("/static/") else getattr(route, "path", None) or "other"
        service.metrics.observe(endpoint, request.method, response.status_code, time.perf_counter() - t0)
        return response


def create_app(config: ServeConfig) -> FastAPI:
    """A new app serving ``config.model`` with ``config``'s limits (see the module docstring); the model loads when
    the app starts (lifespan), not here."""
    service = _Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        service.pool = BoundedPool(concurrency=config.concurrency, max_queue=config.max_queue,
                                   timeout_s=config.timeout_s, retry_after_s=config.retry_after_s,
                                   metrics=service.metrics)
        service.jobs = JobManager(run=partial(run_job, service.models), max_jobs=config.max_jobs,
                                  ttl_s=config.job_ttl_s, retry_after_s=config.retry_after_s, root=config.jobs_dir)
        threading.Thread(target=service.load, name="posekit-serve-load", daemon=True).start()
        try:
            yield
        finally:
            service.pool.shutdown()
            service.jobs.shutdown()

    app = FastAPI(title="posekit", version=__version__, lifespan=lifespan,
                  description="Human pose estimation over HTTP (posekit serve).")
    app.state.service = service
    _install_handlers(app, service)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])

    async def checked_upload(request: Request) -> Upload:
        data = await read_image(request, config.max_upload_bytes, config.timeout_s)
        kind, size = check_upload(data, max_bytes=config.max_upload_bytes, max_pixels=config.max_pixels)
        service.ready()
        return data, kind, size

    skeleton_q = Query(None, description="Convert the poses to this posekit skeleton (e.g. coco17).")
    min_score_q = Query(0.0, ge=0.0, le=1.0, description="Drop instances whose score is lower.")
    model_q = Query(None, description="Model (GET /v1/models) [default: the server's].")
    detector_q = Query(None, description="Person detector of top-down models (GET /v1/models: detectors).")

    @app.post("/v1/poses", response_model=PosesResponse, openapi_extra=UPLOAD_BODY, tags=["poses"],
              responses=_ERROR_RESPONSES)
    async def poses(request: Request, skeleton: str | None = skeleton_q, min_score: float = min_score_q,
                    model: str | None = model_q, detector: str | None = detector_q) -> Any:
        """Poses in one image."""
        t0 = time.perf_counter()
        target = _target_skeleton(skeleton)
        key = service.models.resolve(model, detector)
        upload = await checked_upload(request)
        _, result, decode_ms, infer_ms = await service.pool.run(_infer, service, upload, key, target, min_score)
        width, height = upload[2]
        body = {
            "model": key[0], "detector": key[1], "posekit_version": __version__,
            "image": {"width": width, "height": height}, "poses": poses_payload(result),
            "skeleton": skeleton_payload(result.skeleton),
            "coco": result.to_coco(0),
            "timing_ms": {"decode": round(decode_ms, 3), "inference": round(infer_ms, 3),
                          "total": round((time.perf_counter() - t0) * 1000.0, 3)},
        }
        return JSONResponse(body)

    @app.post("/v1/poses:render", openapi_extra=UPLOAD_BODY, tags=["poses"], response_class=Response,
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, **_ERROR_RESPONSES})
    async def render(request: Request, skeleton: str | None = skeleton_q, min_score: float = min_score_q,
                     model: str | None = model_q, detector: str | None = detector_q,
                     format: str = Query("png", pattern="^(png|jpeg)$", description="png or jpeg."),
                     kpt_thr: float = Query(0.3, ge=0.0, le=1.0, description="Keypoints below are not drawn.")
                     ) -> Response:
        """The image with the poses drawn."""
        target = _target_skeleton(skeleton)
        key = service.models.resolve(model, detector)
        upload = await checked_upload(request)
        image = await service.pool.run(_render, service, upload, key, target, min_score, format, kpt_thr)
        return Response(image, media_type=f"image/{format}")

    @app.get("/v1/models", response_model=ModelsResponse, tags=["service"])
    async def models() -> Any:
        """The models and detectors a request may pick (the served model first) and whether each is loaded."""
        loaded = {m for m, _ in service.models.loaded()}
        out = []
        for name in service.models.models:
            e, caps = get_entry(name), estimator_entry(name).capabilities
            out.append({"name": e.name, "skeleton": e.skeleton.name if e.skeleton else None,
                        "num_keypoints": e.skeleton.num_keypoints if e.skeleton else None,
                        "outputs_3d": caps.outputs_3d, "detector": caps.detector, "loaded": name in loaded,
                        "weights": "offline" if e.offline else "downloads" if e.weights else "needs checkpoint",
                        "description": e.description})
        return JSONResponse({"serving": config.model, "loaded": service.loaded, "models": out,
                             "detectors": list(service.models.detectors)})

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The web page (no key needed: it asks for one when the server has one)."""
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["service"])
    async def healthz() -> Any:
        """The process is up (no key needed)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], responses={503: {"model": ErrorBody}})
    async def readyz() -> Any:
        """The model is loaded (503 until then; no key needed)."""
        service.ready()
        return {"status": "ready", "model": config.model}

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    async def metrics() -> Any:
        """Prometheus text: requests, latency histogram, queue depth, errors, video jobs by status."""
        jobs = None if service.jobs is None else service.jobs.counts()
        return PlainTextResponse(service.metrics.render(jobs), media_type="text/plain; version=0.0.4; charset=utf-8")

    add_video_routes(app, lambda: service.jobs, service.models, config.max_video_bytes, config.timeout_s)
    return app


def app_from_env() -> FastAPI:
    """:func:`create_app` of the :class:`ServeConfig` JSON in ``$POSEKIT_SERVE_CONFIG`` (the factory each uvicorn
    worker process calls with ``--workers N``; an extra key ``threads`` sizes the process's thread pools)."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"{CONFIG_ENV} is not set (posekit serve sets it for its worker processes)")
    fields = json.loads(raw)
    fields["cors_origins"] = tuple(fields.get("cors_origins", ()))
    threads = fields.pop("threads", None)
    configure_threads(threads)
    return create_app(ServeConfig(**fields))
