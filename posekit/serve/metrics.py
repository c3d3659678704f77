"""The service's counters, written in the Prometheus text exposition format (version 0.0.4) by hand.

Thread-safe (one lock): requests are counted on the event loop, the queue gauges change in worker threads.
"""

from __future__ import annotations

import threading
from collections import defaultdict

__all__ = ["LATENCY_BUCKETS_S", "Metrics"]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the request latency histogram (``+Inf`` added)."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counts by endpoint/method/status, a latency histogram per endpoint, error counts by code, and the
    gauges of the inference queue (``waiting``, ``running``) and of the model (``loaded``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._errors: dict[str, int] = defaultdict(int)
        self.waiting = 0
        self.running = 0
        self.loaded = 0

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        with self._lock:
            self._requests[(endpoint, method, status)] += 1
            counts = self._buckets.setdefault(endpoint, [0] * (len(LATENCY_BUCKETS_S) + 1))
            for i, bound in enumerate(LATENCY_BUCKETS_S):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sum[endpoint] += seconds

    def error(self, code: str) -> None:
        """Count one error response by its code."""
        with self._lock:
            self._errors[code] += 1

    def queue(self, *, waiting: int = 0, running: int = 0) -> None:
        """Add to the queue gauges (negative to remove)."""
        with self._lock:
            self.waiting += waiting
            self.running += running

    def render(self, jobs: dict[str, int] | None = None) -> str:
        """The Prometheus text of every metric; ``jobs``: video jobs by status (a gauge, counted by the caller)."""
        with self._lock:
            lines = ["# HELP posekit_requests_total HTTP requests answered, by endpoint, method and status.",
                     "# TYPE posekit_requests_total counter"]
            for (endpoint, method, status), n in sorted(self._requests.items()):
                lines.append(f'posekit_requests_total{{endpoint="{_label(endpoint)}",method="{method}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP posekit_request_duration_seconds Time from request to response, by endpoint.",
                      "# TYPE posekit_request_duration_seconds histogram"]
            for endpoint, counts in sorted(self._buckets.items()):
                ep = _label(endpoint)
                for bound, n in zip((*(repr(b) for b in LATENCY_BUCKETS_S), "+Inf"), counts):
                    lines.append(f'posekit_request_duration_seconds_bucket{{endpoint="{ep}",le="{bound}"}} {n}')
                lines.append(f'posekit_request_duration_seconds_sum{{endpoint="{ep}"}} {self._sum[endpoint]:.6f}')
                lines.append(f'posekit_request_duration_seconds_count{{endpoint="{ep}"}} {counts[-1]}')
            lines += ["# HELP posekit_errors_total Error responses, by error code.",
                      "# TYPE posekit_errors_total counter"]
            lines += [f'posekit_errors_total{{code="{_label(c)}"}} {n}' for c, n in sorted(self._errors.items())]
            lines += ["# HELP posekit_queue_depth Inference requests waiting for a worker.",
                      "# TYPE posekit_queue_depth gauge", f"posekit_queue_depth {self.waiting}",
                      "# HELP posekit_inference_running Inference requests running now.",
                      "# TYPE posekit_inference_running gauge", f"posekit_inference_running {self.running}",
                      "# HELP posekit_model_loaded 1 once the model is loaded.",
                      "# TYPE posekit_model_loaded gauge", f"posekit_model_loaded {self.loaded}"]
        if jobs is not None:
            lines += ["# HELP posekit_video_jobs Video jobs kept by the server, by status.",
                      "# TYPE posekit_video_jobs gauge"]
            lines += [f'posekit_video_jobs{{status="{status}"}} {n}' for status, n in sorted(jobs.items())]
        return "\n".join(lines) + "\n"
