"""``posekit bench``: posekit's backends (eager, bf16, torch.compile, ONNX Runtime) timed side by side with the
installed peers (MMPose ``inference_topdown``, rtmlib, MediaPipe), in one run, on the same inputs.

:func:`run_bench` returns a :class:`Report`; :func:`format_report` prints it. The peers run in their own
virtual environments (``peers.py``; recipes in ``benchmarks/README.md``) through the ``peer_*.py`` scripts of
this folder.
"""

from __future__ import annotations

from posekit.bench.command import run_bench
from posekit.bench.report import Report, format_report

__all__ = ["run_bench", "Report", "format_report"]
