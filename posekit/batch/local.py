"""The local engine of ``posekit batch`` (:func:`run_local`): the pending tasks one after another in this process.

The Ray engine also calls it for its last pass, on tasks its actor pool left undone.
"""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from posekit.batch.plan import RunSpec, Task
from posekit.batch.rundir import RunDir
from posekit.batch.work import build, compute_threads, run_task

__all__ = ["run_local"]


def run_local(spec: RunSpec, tasks: list[Task], rundir: RunDir, *, progress: bool = True) -> dict[str, Any]:
    """Run the pending ``tasks`` (those not ``rundir.is_done``) in this process, with one model and
    ``spec.threads`` compute threads (the process's thread counts are given back afterwards); returns ``{"ran": n}``."""
    pending = [t for t in tasks if not rundir.is_done(t)]
    if pending:
        with compute_threads(spec.threads):
            estimator = build(spec)
            for task in tqdm(pending, desc="posekit batch", unit="task", disable=not progress):
                rundir.write(task, run_task(estimator, task, spec))
    return {"ran": len(pending)}
