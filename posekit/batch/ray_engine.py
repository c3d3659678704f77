"""The Ray engine of ``posekit batch`` (:func:`run_ray`): the pending tasks of a plan run in a Ray Data actor pool.

How a run goes:

1. ``ray.data.from_items`` holds one row per pending task (:meth:`~posekit.batch.plan.Task.to_json`: its name,
   kind and paths, ~60 bytes a path), one block per task so that tasks spread over the actors one at a time.
2. ``map_batches(TaskActor, compute=ActorPoolStrategy(size=num_workers), num_cpus=spec.threads, batch_size=1)``:
   a fixed pool of ``num_workers`` actors, each with ``spec.threads`` CPUs and compute threads
   (:func:`posekit.runtime.threads.configure_threads`; 1 by default), builds the estimator once and, per task, runs
   :func:`posekit.batch.work.run_task` and writes the task's shard, errors and done marker itself
   (:meth:`posekit.batch.rundir.RunDir.write`). Only counts go back through the object store.
3. The driver consumes the counts (a tqdm bar over tasks), then checks every task's marker and runs any task still
   missing in the driver (a last pass, counted in ``"retries"``); a task missing after that is a ``RuntimeError``.

Decoding is parallel at two levels: each actor reads the images of its task in a small thread pool
(:mod:`posekit.batch.work`) while the actors run side by side. Images are read where they are used, not shipped:
a decoded 640 x 480 RGB image is 0.9 MB in the object store, its path 60 bytes, and a corpus of them would be
copied across nodes for nothing. The run folder (and the inputs) must therefore be reachable at the same paths from
every node of a cluster (a shared file system), and posekit with the model's weights installed on every node (the
actors import it there).

Faults: a worker that dies (its process killed, its node lost) is restarted and its in-flight tasks run again.
That is Ray Data's default for actor pools in Ray 2.60 (``ActorPoolMapOperator._apply_default_remote_args`` sets
``max_restarts=-1`` and ``max_task_retries=-1``; passing them to ``map_batches`` is deprecated there), and
``tests/batch/test_ray.py`` kills an actor mid-run to check it. A task that runs twice writes identical files (the
writes are atomic and deterministic), so nothing is lost or duplicated. A bad input never raises (it is an error
row, :func:`~posekit.batch.work.run_task`); an exception in an actor (a full disk) fails the run, whose finished
tasks a rerun keeps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ray
import ray.data
from tqdm import tqdm

from posekit.batch.plan import RunSpec, Task
from posekit.batch.rundir import RunDir
from posekit.batch.local import run_local
from posekit.batch.work import build, run_task
from posekit.runtime.threads import configure_threads

__all__ = ["OBJECT_STORE_BYTES", "TaskActor", "run_ray"]

OBJECT_STORE_BYTES = 200 * 2**20
"""Object store of a local Ray started by the engine: only task descriptions and counts go through it."""


class TaskActor:
    """The Ray Data UDF of :func:`run_ray`: one estimator per actor; ``__call__`` runs and writes one batch of tasks.

    Args:
        spec: :meth:`RunSpec.to_json` of the run.
        out: the run folder.
    """

    def __init__(self, spec: dict[str, Any], out: str) -> None:
        self.spec = RunSpec(**spec)
        configure_threads(self.spec.threads)
        self.rundir = RunDir(out)
        self.estimator = build(self.spec)

    def __call__(self, batch: Any) -> dict[str, list]:
        """``batch``: a ``pyarrow.Table`` of task rows; returns per task its name, items, rows, errors and the pid
        of the process that ran it."""
        out: dict[str, list] = {"name": [], "items": [], "rows": [], "errors": [], "pid": []}
        for row in batch.to_pylist():
            task = Task.from_json(row)
            counts = self.rundir.write(task, run_task(self.estimator, task, self.spec))
            for key in ("items", "rows", "errors"):
                out[key].append(counts[key])
            out["name"].append(task.name)
            out["pid"].append(os.getpid())
        return out


def _start_ray(address: str | None, num_workers: int) -> bool:
    """Connect to ``address`` or start a local Ray with ``num_workers`` CPUs, unless this process already has a Ray;
    returns True when it started (or connected) one, which :func:`run_ray` then shuts down."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is not None:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    else:
        ray.init(num_cpus=num_workers, object_store_memory=OBJECT_STORE_BYTES, **quiet)
    return True


def run_ray(spec: RunSpec, tasks: list[Task], rundir: RunDir, *, address: str | None, num_workers: int,
            progress: bool) -> dict[str, Any]:
    """Run the pending ``tasks`` (those not ``rundir.is_done``) on Ray (see the module docstring).

    Args:
        address: a Ray cluster (``ray.init(address=...)``); ``None``: a local Ray with ``num_workers`` CPUs. A Ray
            already initialised in this process is used as it is and left running.
        num_workers: actors in the pool (each one CPU, one model).

    Returns:
        ``{"ran": tasks run, "retries": tasks the driver ran again after the pool, "actor_pids": distinct actor
        processes that finished tasks}``.

    Raises:
        RuntimeError: tasks still not done after the last pass (named).
    """
    pending = [t for t in tasks if not rundir.is_done(t)]
    if not pending:
        return {"ran": 0, "retries": 0, "actor_pids": 0}
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    started = _start_ray(address, num_workers)
    context = ray.data.DataContext.get_current()
    saved = (context.enable_progress_bars, context.print_on_execution_start)
    pids: set[int] = set()
    try:
        context.enable_progress_bars = False  # ours is over tasks, not blocks
        context.print_on_execution_start = False
        dataset = ray.data.from_items([t.to_json() for t in pending], override_num_blocks=len(pending))
        results = dataset.map_batches(
            TaskActor, fn_constructor_kwargs={"spec": spec.to_json(), "out": str(Path(rundir.out).resolve())},
            batch_format="pyarrow", batch_size=1, num_cpus=spec.threads,
            compute=ray.data.ActorPoolStrategy(size=min(num_workers, len(pending))))
        with tqdm(total=len(pending), desc="posekit batch (ray)", unit="task", disable=not progress) as bar:
            for row in results.iter_rows():
                pids.add(int(row["pid"]))
                bar.update(1)
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        if started:
            ray.shutdown()
    missing = [t for t in pending if not rundir.is_done(t)]
    if missing:  # not expected (Ray retries the tasks of dead actors); run them here rather than lose them
        run_local(spec, missing, rundir, progress=False)
    still = [t.name for t in pending if not rundir.is_done(t)]
    if still:
        raise RuntimeError(f"{len(still)} task(s) not done after the Ray run and a retry: {', '.join(still)}")
    return {"ran": len(pending), "retries": len(missing), "actor_pids": len(pids)}
