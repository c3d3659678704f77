"""The models one service process runs (:class:`ModelCache`): each built once, on first use, and shared by every
request (and video job) that names it.

A request picks a model with ``model=NAME`` and a person detector with ``detector=NAME``; both are checked against
what this server allows before anything is built: the served model plus ``ServeConfig.models`` (default: every body
model whose weights are offline, so no request ever starts a download), and the offline detectors (plus the one the
server was started with). The cache holds at most ``ServeConfig.max_models`` estimators; the least recently used
one other than the served model is dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from posekit.models.registry import get_entry, list_models
from posekit.pipelines.registry import (
    build_estimator,
    estimator_entries,
    estimator_entry,
)
from posekit.serve.config import ServeConfig
from posekit.serve.limits import ApiError

__all__ = ["ModelCache", "allowed_detectors", "allowed_models"]

Key = tuple[str, "str | None"]


def allowed_models(config: ServeConfig) -> tuple[str, ...]:
    """The model names requests may pick: the served model first, then ``config.models`` or, when that is empty,
    every registered body estimator whose weights ship offline (:attr:`ModelEntry.offline`)."""
    extra = config.models or tuple(e.name for e in estimator_entries()
                                   if get_entry(e.name).task == "body" and get_entry(e.name).offline)
    return (config.model, *sorted(set(extra) - {config.model}))


def allowed_detectors(config: ServeConfig) -> tuple[str, ...]:
    """The detector names requests may pick: the offline detectors, and the one the server was started with."""
    names = {n for n in list_models(task="detect") if get_entry(n).offline}
    started = config.options.get("detector")
    if isinstance(started, str):
        names.add(started)
    return tuple(sorted(names))


class ModelCache:
    """Estimators by ``(model, detector)``; thread-safe, each built once (concurrent first users wait for it)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.models = allowed_models(config)
        self.detectors = allowed_detectors(config)
        self._lock = threading.Lock()
        self._builds: dict[Key, threading.Lock] = {}
        self._cache: OrderedDict[Key, Any] = OrderedDict()

    @property
    def default_key(self) -> Key:
        detector = self.config.options.get("detector")
        return self.config.model, detector if isinstance(detector, str) else None

    def resolve(self, model: str | None, detector: str | None) -> Key:
        """The cache key of a request's ``model=`` / ``detector=`` (``None``: the server's).

        Raises:
            ApiError: 400 ``bad_parameter`` for a model or detector this server does not allow, or a detector given
                to a model that finds people itself.
        """
        name = self.config.model if model is None else model
        if name not in self.models:
            raise ApiError(400, "bad_parameter", f"model={name!r} is not served here; choose one of "
                                                 f"{', '.join(self.models)} (GET /v1/models)")
        if detector is None:
            return (name, self.default_key[1]) if name == self.config.model else (name, None)
        if detector not in self.detectors:
            raise ApiError(400, "bad_parameter", f"detector={detector!r} is not available here; choose one of "
                                                 f"{', '.join(self.detectors)}")
        if not estimator_entry(name).capabilities.detector:
            raise ApiError(400, "bad_parameter", f"{name} finds people itself (one-stage or bottom-up) and takes no "
                                                 "detector=")
        return name, detector

    def get(self, key: Key) -> Any:
        """The estimator of ``key`` (from :meth:`resolve`), built now on first use.

        Raises:
            ApiError: 500 ``model_failed`` when it cannot be built (the message names the model and the cause).
        """
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            build_lock = self._builds.setdefault(key, threading.Lock())
        with build_lock:  # one build per key; the others wait for it, then find it cached
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            estimator = self._build(key)
            with self._lock:
                self._cache[key] = estimator
                self._evict()
            return estimator

    def _build(self, key: Key) -> Any:
        model, detector = key
        options = dict(self.config.options)
        if detector is not None:
            options["detector"] = detector
        elif model != self.config.model:
            options.pop("detector", None)
            options.pop("detector_weights", None)
        try:
            return build_estimator(model, backend=self.config.backend, device=self.config.device, **options)
        except Exception as exc:  # noqa: BLE001 (any build failure is reported to the client, the server stays up)
            what = model if detector is None else f"{model} with detector {detector}"
            raise ApiError(500, "model_failed", f"{what} failed to load: {type(exc).__name__}: {exc}") from None

    def _evict(self) -> None:
        while len(self._cache) > self.config.max_models:
            victim = next((k for k in self._cache if k != self.default_key), None)
            if victim is None:
                return
            del self._cache[victim]

    def loaded(self) -> list[Key]:
        """The keys built so far, least recently used first."""
        with self._lock:
            return list(self._cache)
