"""Running a ``posekit batch`` plan (:func:`run_batch`): the local engine in :mod:`posekit.batch.local`, the Ray
engine in :mod:`posekit.batch.ray_engine`; both run :func:`posekit.batch.work.run_task` on each task not yet done and write it
with :class:`posekit.batch.rundir.RunDir`, so their results are the same.

The local engine runs the tasks one after another in this process (one model load, ``spec.threads`` compute
threads; images read by a thread pool). The Ray engine runs them in a pool of actors, each with its own model and
``spec.threads`` threads.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

from posekit.batch.inputs import expand_inputs
from posekit.batch.local import run_local
from posekit.batch.plan import RunSpec, plan_tasks
from posekit.batch.rundir import RunDir

__all__ = ["ENGINES", "default_engine", "run_batch", "run_local"]

ENGINES = ("local", "ray")


def default_engine() -> str:
    """``"ray"`` when Ray (the ``posekit[batch]`` extra) is installed, else ``"local"``."""
    return "ray" if importlib.util.find_spec("ray") is not None else "local"


def run_batch(source: str | os.PathLike, out: str | os.PathLike, spec: RunSpec, *, engine: str | None = None,
              root: str | os.PathLike | None = None, address: str | None = None, num_workers: int = 2,
              progress: bool = True) -> dict[str, Any]:
    """Run ``spec`` over the inputs of ``source`` into the run folder ``out`` (resuming a run there) and return
    the summary (also in ``out/summary.json``).

    Args:
        source, root: as :func:`posekit.batch.inputs.expand_inputs`.
        engine: ``"local"``, ``"ray"`` or ``None`` (:func:`default_engine`).
        address: the Ray cluster (``ray.init(address=...)``; ``None``: a local Ray with ``num_workers`` CPUs).
        num_workers: Ray actors (each one model, one CPU).

    Raises:
        FileNotFoundError, ValueError: bad inputs, or ``out`` holds another run.
        ImportError: ``engine="ray"`` without Ray installed.
    """
    engine = default_engine() if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    items = expand_inputs(source, root=root)
    if not items:
        raise ValueError(f"{source}: no image or video to process")
    tasks = plan_tasks(items, spec)
    rundir = RunDir(out)
    resumed = rundir.prepare(spec, items)
    t0 = time.perf_counter()
    if engine == "ray":
        from posekit.batch.ray_engine import run_ray  # Ray is optional: imported only for this engine

        ran = run_ray(spec, tasks, rundir, address=address, num_workers=num_workers, progress=progress)
    else:
        ran = run_local(spec, tasks, rundir, progress=progress)
    seconds = time.perf_counter() - t0
    info = {"engine": engine, "num_workers": num_workers if engine == "ray" else 1, "resumed": resumed,
            "seconds": round(seconds, 3), "inputs": len(items), "source": str(Path(source)), **ran}
    return rundir.finish(tasks, info)
