"""``posekit serve``: pose estimation over HTTP (FastAPI + uvicorn, the optional extra ``posekit[serve]``).

:func:`create_app` builds the app from a :class:`ServeConfig`; :mod:`posekit.serve.limits` checks uploads before
decoding; :mod:`posekit.serve.metrics` writes the Prometheus text. Importing this package imports FastAPI.
"""

from __future__ import annotations

from posekit.serve.app import create_app
from posekit.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
