"""Rows of the ``posekit bench`` table, the goals they are judged by, and the ratios between them.

A row is one runner timed on one input: a posekit backend (``eager``, ``bf16``, ``compile``, ``onnxruntime``) or a
peer (MediaPipe, MMPose, rtmlib). Rows that do the same work form a *group* (same suite, model and flip test):
the group's peer row is the reference of its posekit rows' ratios. A row that could not be timed carries the
reason instead of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from posekit.bench.timing import Summary

#: posekit backends both suites time (a backend a pipeline refuses, e.g. bf16 for BlazePose, is a skipped row).
BACKENDS = ("eager", "bf16", "compile", "onnxruntime")


@dataclass(frozen=True)
class Row:
    """One timed runner.

    Attributes:
        suite: ``"topdown"`` or ``"blazepose"``.
        model: posekit model name.
        runner: how the table names it, e.g. ``"posekit bf16"``, ``"rtmlib 0.0.16 (onnxruntime 1.32.0)"``.
        backend: the posekit backend, or the peer's name for a peer row.
        is_peer: whether this is the group's reference.
        flip: flip test on (top-down), None where it does not apply.
        count: units per call: persons (top-down) or images (BlazePose).
        unit: ``"person"`` or ``"image"``.
        median_ms, min_ms: per call (all units), None when skipped.
        repeats: timed calls.
        reason: why the row was not timed ("" when it was).
        ratio: per-unit median over the group peer's (None without a timed peer).
        versus: the peer's label the ratio is against.
        max_shift_px: largest keypoint difference to the peer (pixels), where both ran the same weights.
        goal: the ratio this row must stay at or under, None when no goal applies.
        goal_met: ``ratio <= goal``, None when either is missing.
    """

    suite: str
    model: str
    runner: str
    backend: str
    is_peer: bool
    flip: bool | None
    count: int
    unit: str
    median_ms: float | None = None
    min_ms: float | None = None
    repeats: int = 0
    reason: str = ""
    ratio: float | None = None
    versus: str = ""
    max_shift_px: float | None = None
    goal: float | None = None
    goal_met: bool | None = None

    @property
    def timed(self) -> bool:
        return self.median_ms is not None

    @property
    def per_unit_ms(self) -> float | None:
        return None if self.median_ms is None else self.median_ms / self.count

    @property
    def group(self) -> tuple[str, str, bool | None]:
        return self.suite, self.model, self.flip


def timed_row(template: Row, summary: Summary, *, max_shift_px: float | None = None) -> Row:
    """``template`` with the times of ``summary`` (per call) and the keypoint difference to the peer."""
    return replace(template, median_ms=summary.median_ms, min_ms=summary.min_ms, repeats=summary.repeats,
                   max_shift_px=max_shift_px)


def skipped_row(template: Row, reason: str) -> Row:
    """``template`` not timed, because of ``reason`` (its first line, at most 300 characters)."""
    lines = str(reason).strip().splitlines() or ["no reason given"]
    text = lines[0] if len(lines[0]) <= 300 else lines[0][:297] + "..."
    return replace(template, reason=text)


@dataclass(frozen=True)
class Goal:
    """A target ratio: posekit's ``backends`` on ``model`` (None: every model of the suite) per unit, over the
    peer ``peer`` (its :attr:`Row.backend`), at most ``max_ratio``; ``text`` says it in words."""

    suite: str
    model: str | None
    peer: str
    backends: tuple[str, ...]
    max_ratio: float
    text: str


def _goal_for(row: Row, peer: Row, goals: Sequence[Goal]) -> Goal | None:
    for goal in goals:
        if (goal.suite == row.suite and goal.model in (None, row.model) and goal.peer == peer.backend
                and row.backend in goal.backends):
            return goal
    return None


def compare(rows: Sequence[Row], goals: Sequence[Goal]) -> list[Row]:
    """New rows with ``ratio``, ``versus``, ``goal`` and ``goal_met`` filled in for each posekit row against the
    peer row of its group (the first matching goal applies; the goal is shown even without a timed peer)."""
    peers = {r.group: r for r in rows if r.is_peer}
    out = []
    for row in rows:
        peer = peers.get(row.group)
        if row.is_peer or peer is None:
            out.append(row)
            continue
        goal = _goal_for(row, peer, goals)
        ratio = (row.per_unit_ms / peer.per_unit_ms) if row.timed and peer.timed else None
        out.append(replace(row, ratio=ratio, versus=peer.runner.split(" ")[0],
                           goal=None if goal is None else goal.max_ratio,
                           goal_met=None if goal is None or ratio is None else ratio <= goal.max_ratio))
    return out


@dataclass(frozen=True)
class GoalResult:
    """A goal on one model: ``status`` ``"met"``, ``"missed"`` or ``"not measured"``, and ``detail`` (the best
    posekit row and its ratio, or why there is no ratio)."""

    text: str
    model: str
    status: str
    detail: str
    best_ratio: float | None


def goal_results(rows: Sequence[Row], goals: Sequence[Goal]) -> list[GoalResult]:
    """One :class:`GoalResult` per goal and model present in ``rows`` (after :func:`compare`)."""
    out = []
    for goal in goals:
        models = sorted({r.model for r in rows if r.suite == goal.suite and goal.model in (None, r.model)})
        for model in models:
            peer_rows = [r for r in rows if r.is_peer and r.backend == goal.peer and r.model == model]
            if not peer_rows:
                continue
            mine = [r for r in rows if not r.is_peer and r.model == model and r.suite == goal.suite
                    and r.backend in goal.backends and r.group == peer_rows[0].group]
            rated = [r for r in mine if r.ratio is not None]
            if not peer_rows[0].timed:
                out.append(GoalResult(goal.text, model, "not measured", f"{peer_rows[0].runner} skipped", None))
            elif not rated:
                why = "; ".join(f"{r.runner}: {r.reason}" for r in mine) or "no posekit backend of the goal was run"
                out.append(GoalResult(goal.text, model, "not measured", why, None))
            else:
                best = min(rated, key=lambda r: r.ratio)
                status = "met" if best.ratio <= goal.max_ratio else "missed"
                out.append(GoalResult(goal.text, model, status, f"best {best.runner}: {best.ratio:.2f}x",
                                      best.ratio))
    return out
