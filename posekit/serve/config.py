"""The settings of one ``posekit serve`` process (:class:`ServeConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from posekit.cli_common import DEFAULT_MODEL

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one service process.

    Attributes:
        model: registry name of the pose model (default: ``posekit predict``'s; :func:`posekit.pipelines.registry.build_estimator`).
        backend, device: the model's engine (``torch`` / ``onnxruntime``; torch device).
        options: further estimator builder options (e.g. ``{"detector": "nanodet"}``).
        api_key: requests other than ``/healthz`` and ``/readyz`` need it (``X-API-Key`` or ``Authorization:
            Bearer``); ``None``: open.
        max_upload_bytes: larger uploads get 413.
        max_pixels: images whose header declares more pixels (width x height) get 413 before decoding.
        max_queue: inference requests that may wait for a worker; more get 503 with ``Retry-After``.
        concurrency: inference requests that run at once (worker threads sharing the one model).
        timeout_s: a request that has no answer after this many seconds (waiting + running) gets 504.
        cors_origins: origins allowed by CORS (empty: CORS off; ``("*",)`` any).
        retry_after_s: the ``Retry-After`` seconds of a 503.
        delay_s: seconds each inference sleeps before it runs (tests only: keeps a request in flight).
        models: the models a request may pick with ``model=`` besides ``model`` (empty: every body model whose
            weights are offline; :func:`posekit.serve.models.allowed_models`).
        max_models: estimators kept loaded at once (least recently used dropped first; never ``model``).
        max_video_bytes: larger video uploads get 413.
        max_jobs: video jobs queued or running at once; more get 503 with ``Retry-After``.
        job_ttl_s: seconds a finished job's results are kept (then deleted; all are deleted when the server stops).
        jobs_dir: folder that holds one temporary folder per job (``None``: the system's temp folder).
    """

    model: str = DEFAULT_MODEL
    backend: str = "torch"
    device: str = "cpu"
    options: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    max_upload_bytes: int = 10 * 2**20
    max_pixels: int = 40_000_000
    max_queue: int = 16
    concurrency: int = 1
    timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()
    retry_after_s: int = 1
    delay_s: float = 0.0
    models: tuple[str, ...] = ()
    max_models: int = 4
    max_video_bytes: int = 200 * 2**20
    max_jobs: int = 4
    job_ttl_s: float = 3600.0
    jobs_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "concurrency", "max_models", "max_video_bytes", "max_jobs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ServeConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if int(self.max_queue) < 0:
            raise ValueError(f"ServeConfig.max_queue must be >= 0, got {self.max_queue!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"ServeConfig.timeout_s must be > 0, got {self.timeout_s!r}")
        if not self.job_ttl_s > 0:
            raise ValueError(f"ServeConfig.job_ttl_s must be > 0, got {self.job_ttl_s!r}")
        if self.delay_s < 0:
            raise ValueError(f"ServeConfig.delay_s must be >= 0, got {self.delay_s!r}")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        object.__setattr__(self, "models", tuple(self.models))
