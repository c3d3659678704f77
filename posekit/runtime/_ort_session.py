"""ONNX Runtime sessions for the runtime package: :func:`open_session` and the process-wide thread pool.

Kept apart from :mod:`posekit.runtime.onnxruntime_runner` (which runs sessions) so that
:mod:`posekit.runtime.onnx_export` (which verifies exports in a session) and the runner (which exports torch
modules before running them) do not import each other. Imports no torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["ensure_shared_pool", "open_session"]

_shared_pool = False  # whether this process made ONNX Runtime's process-wide pool (it cannot be undone)


def ensure_shared_pool(ort: Any, intra_op_num_threads: int | None) -> None:
    """Create ONNX Runtime's process-wide intra-op thread pool unless it exists (ONNX Runtime keeps that state;
    it refuses to replace the pool, which here means it is already there)."""
    global _shared_pool
    try:
        ort.set_global_thread_pool_sizes(int(intra_op_num_threads or 0), 1)
    except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own Fail type)
        if "already been created" not in str(exc):
            raise
    _shared_pool = True


def open_session(path: str | os.PathLike[str] | bytes, options: Any, providers: Sequence[str]) -> Any:
    """``onnxruntime.InferenceSession(path, options, providers=providers)`` (``path`` may also be the serialised
    model's bytes); once ONNX Runtime's process-wide thread
    pool exists (see ``OrtRunner(shared_threads=True)``) ONNX Runtime refuses sessions with their own pool, so such a
    session is opened on the shared pool instead (its ``intra_op_num_threads`` then no longer applies)."""
    import onnxruntime as ort

    model = path if isinstance(path, bytes) else str(path)
    if _shared_pool:  # asking for a pool of its own would fail (and ONNX Runtime prints an "EP Error" banner)
        options.use_per_session_threads = False
    try:
        return ort.InferenceSession(model, options, providers=list(providers))
    except RuntimeError as exc:
        if "use_per_session_threads must be false" not in str(exc):
            raise
        options.use_per_session_threads = False
        return ort.InferenceSession(model, options, providers=list(providers))
