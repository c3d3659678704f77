"""The result of ``posekit bench``: the machine, the settings, the rows and the goals, as a printed table or
JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from posekit.bench.rows import GoalResult, Row
from posekit.bench.timing import load_average_text

_TITLES = {"topdown": "top-down, end to end per person", "blazepose": "BlazePose pipeline, per image"}


@dataclass(frozen=True)
class Report:
    """Everything one ``posekit bench`` run measured.

    Attributes:
        machine: :func:`posekit.bench.timing.machine_info` plus ``torch``, ``onnxruntime`` (versions),
            ``threads`` and ``load_average_after``.
        settings: the run's options (suites, models, backends, threads, repeats, warmup, weights).
        notes: per suite, what it ran on (``{"topdown": "...", "blazepose": "..."}``).
        rows: the table, in order.
        goals: the goals' verdicts.
    """

    machine: dict[str, Any]
    settings: dict[str, Any]
    notes: dict[str, str] = field(default_factory=dict)
    rows: tuple[Row, ...] = ()
    goals: tuple[GoalResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``machine``, ``settings``, ``notes``, ``rows`` (each with ``per_unit_ms`` added) and
        ``goals``."""
        rows = [{**asdict(r), "per_unit_ms": r.per_unit_ms} for r in self.rows]
        return {"machine": dict(self.machine), "settings": dict(self.settings), "notes": dict(self.notes),
                "rows": rows, "goals": [asdict(g) for g in self.goals]}

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as indented JSON to ``path`` (folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def machine_line(machine: dict[str, Any]) -> str:
    """One line: CPU, cores, system, Python, torch and its threads, ONNX Runtime."""
    usable = machine.get("usable_cores")
    cores = f"{machine.get('cores')} cores" + (f" ({usable} usable)" if usable not in (None, machine.get("cores"))
                                                 else "")
    parts = [str(machine.get("cpu")), cores, str(machine.get("system")), f"Python {machine.get('python')}",
             f"torch {machine.get('torch')} with {machine.get('threads')} threads"]
    if machine.get("onnxruntime"):
        parts.append(f"onnxruntime {machine['onnxruntime']}")
    return " | ".join(parts)


def _busy(machine: dict[str, Any]) -> str:
    """A warning when, before the run, other processes kept the cores the run needs busy (1-minute load
    average >= cores - threads + 1): torch's threads then slow down many times over and the times mean little.
    (The load after the run includes the run itself.)"""
    cores = machine.get("usable_cores") or machine.get("cores")
    load, threads = machine.get("load_average"), machine.get("threads") or 1
    if not cores or not load or load[0] < max(1, cores - threads + 1):
        return ""
    return (f"; WARNING: the CPU was busy before the run (load {load[0]:.1f}, {cores} cores, {threads} threads): "
            f"the times are not representative")


def _goal_cell(row: Row) -> str:
    if row.goal is None:
        return ""
    verdict = "-" if row.goal_met is None else ("met" if row.goal_met else "MISSED")
    return f"<= {row.goal:.2f}x {verdict}"


def _table(rows: list[Row]) -> list[str]:
    unit = rows[0].unit
    wm = max(len("model"), *(len(r.model) for r in rows))
    wr = max(len("runner"), *(len(r.runner) for r in rows))
    head = (f"{'model':{wm}s}  {'flip':4s}  {'runner':{wr}s}  {'ms/call (min)':>17s}  {'ms/' + unit:>10s}  "
            f"{'ratio':>14s}  {'max dpx':>7s}  goal")
    lines = [head, "-" * len(head)]
    for r in rows:
        flip = "-" if r.flip is None else ("on" if r.flip else "off")
        left = f"{r.model:{wm}s}  {flip:4s}  {r.runner:{wr}s}  "
        if not r.timed:
            lines.append(left + f"skipped: {r.reason}")
            continue
        call = f"{r.median_ms:.1f} ({r.min_ms:.1f})"
        ratio = "reference" if r.is_peer else ("-" if r.ratio is None else f"{r.ratio:.2f}x {r.versus}")
        shift = "" if r.max_shift_px is None else f"{r.max_shift_px:.2f}"
        lines.append(left + f"{call:>17s}  {r.per_unit_ms:10.1f}  {ratio:>14s}  {shift:>7s}  {_goal_cell(r)}".rstrip())
    return lines


def format_report(report: Report) -> str:
    """The printed form: the machine, one table per suite, the goals."""
    m, s = report.machine, report.settings
    out = [f"posekit bench | {machine_line(m)}",
           f"load average before {load_average_text(m.get('load_average'))}, after "
           f"{load_average_text(m.get('load_average_after'))}{_busy(m)}",
           f"times: median (min) of {s.get('repeats')} timed calls after {s.get('warmup')} warm-up call(s), which "
           f"absorb one-off costs (torch.compile, ONNX Runtime start-up); ratio = posekit / peer per person or "
           f"image; max dpx = largest keypoint difference to the peer in pixels"]
    for suite in dict.fromkeys(r.suite for r in report.rows):
        rows = [r for r in report.rows if r.suite == suite]
        out += ["", f"{_TITLES.get(suite, suite)}: {report.notes.get(suite, '')}".rstrip(": "), *_table(rows)]
    if report.goals:
        out += ["", "goals:"]
        for g in report.goals:
            out.append(f"  {g.model}: {g.text}: {g.status.upper() if g.status == 'missed' else g.status} "
                       f"({g.detail})")
    return "\n".join(out)
