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

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "concurrency"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ServeConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if int(self.max_queue) < 0:
            raise ValueError(f"ServeConfig.max_queue must be >= 0, got {self.max_queue!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"ServeConfig.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.delay_s < 0:
            raise ValueError(f"ServeConfig.delay_s must be >= 0, got {self.delay_s!r}")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
