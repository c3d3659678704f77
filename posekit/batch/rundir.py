"""The run folder of ``posekit batch`` (:class:`RunDir`): what is done, and the results, written so that a rerun
resumes and never mixes runs.

Layout of ``OUT/``::

    run.json                 the run's spec, the digest of its input list, posekit's version
    shards/NAME.parquet      pose rows of task NAME (:data:`~posekit.batch.records.POSES_SCHEMA`)
    errors/NAME.parquet      its error rows (:data:`~posekit.batch.records.ERRORS_SCHEMA`)
    done/NAME.json           written last: the task is done (counts)
    summary.json             written at the end of each run: totals, engine, seconds
    errors.parquet           every error row of the run, in task order

A task counts as done only once its marker exists, and the marker is written after both Parquet files, each
renamed into place complete (:func:`posekit.io.atomic.atomic_destination`): a run killed at any moment leaves
every task either done or not started. Parquet files are written the same way from the same rows, so a task run
twice (a resumed run, a retried worker) gives byte-identical files. A folder whose ``run.json`` names another
spec or other inputs is refused: a changed model or option is a new run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from posekit import __version__
from posekit.batch.inputs import InputItem
from posekit.batch.plan import RunSpec, Task, inputs_digest
from posekit.batch.records import ERRORS_SCHEMA, POSES_SCHEMA, errors_table, poses_table
from posekit.batch.work import TaskResult
from posekit.io.atomic import atomic_destination

__all__ = ["RunDir"]

RUN_FILE = "run.json"


def _write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_destination(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=False)


class RunDir:
    """The run folder ``out`` (see the module docstring)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)

    def shard(self, task: Task) -> Path:
        return self.out / "shards" / f"{task.name}.parquet"

    def _errors(self, task: Task) -> Path:
        return self.out / "errors" / f"{task.name}.parquet"

    def _marker(self, task: Task) -> Path:
        return self.out / "done" / f"{task.name}.json"

    def prepare(self, spec: RunSpec, items: list[InputItem]) -> bool:
        """Create the folder for a run of ``spec`` over ``items``, or check that it holds that run; returns True when
        it already did (a resumed run).

        Raises:
            ValueError: the folder holds a run of another spec, other inputs or another posekit version (it names
                what differs), or is not a run folder but not empty.
        """
        record = {"posekit_batch": 1, "posekit_version": __version__, "spec": spec.to_json(),
                  "inputs_sha256": inputs_digest(items), "num_inputs": len(items)}
        path = self.out / RUN_FILE
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: not a posekit batch run file ({exc})") from None
            changed = [k for k in ("posekit_version", "spec", "inputs_sha256") if old.get(k) != record[k]]
            if changed:
                detail = {"spec": "the model or options", "inputs_sha256": "the inputs",
                          "posekit_version": "posekit's version"}
                what = ", ".join(detail[k] for k in changed)
                if "spec" in changed:
                    diff = {k: (old["spec"].get(k), v) for k, v in record["spec"].items() if old["spec"].get(k) != v}
                    what += f" ({', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in diff.items())})"
                raise ValueError(f"{self.out} holds another run ({what} differ); results of different runs are "
                                 f"never mixed: choose another --out")
            return True
        if self.out.exists() and any(self.out.iterdir()):
            raise ValueError(f"{self.out} is not empty and holds no {RUN_FILE}: choose a new or empty --out")
        for sub in ("shards", "errors", "done"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        with atomic_destination(path) as tmp:
            tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
        return False

    def is_done(self, task: Task) -> bool:
        return self._marker(task).exists() and self.shard(task).exists()

    def write(self, task: Task, result: TaskResult) -> dict[str, Any]:
        """Write one task's shard, its errors and then its marker; returns the marker's counts."""
        _write_parquet(poses_table(result.poses), self.shard(task))
        _write_parquet(errors_table(result.errors), self._errors(task))
        counts = {"task": task.to_json(), "items": result.items, "rows": len(result.poses),
                  "errors": len(result.errors)}
        with atomic_destination(self._marker(task)) as tmp:
            tmp.write_text(json.dumps(counts), encoding="utf-8")
        return counts

    def counts(self, task: Task) -> dict[str, Any]:
        return json.loads(self._marker(task).read_text(encoding="utf-8"))

    def finish(self, tasks: list[Task], info: dict[str, Any]) -> dict[str, Any]:
        """Write ``errors.parquet`` (every error row, in task order) and ``summary.json`` (totals of the done tasks
        plus ``info``); returns the summary."""
        done = [t for t in tasks if self.is_done(t)]
        counts = [self.counts(t) for t in done]
        errors = [pq.read_table(self._errors(t)) for t in done if self._errors(t).exists()]
        _write_parquet(pa.concat_tables(errors) if errors else ERRORS_SCHEMA.empty_table(), self.out / "errors.parquet")
        summary = {
            "tasks": len(tasks), "tasks_done": len(done),
            "images": sum(c["items"] for c in counts if c["task"]["kind"] == "images"),
            "frames": sum(c["items"] for c in counts if c["task"]["kind"] == "video"),
            "rows": sum(c["rows"] for c in counts), "errors": sum(c["errors"] for c in counts),
            "shards": [str(self.shard(t).relative_to(self.out)) for t in done],
            "schema": [f.name for f in POSES_SCHEMA], **info,
        }
        with atomic_destination(self.out / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return summary
