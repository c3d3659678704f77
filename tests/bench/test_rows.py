"""Ratios against the group's peer, goals per row and per model, and the timing loop."""

from __future__ import annotations

import pytest

from posekit.bench.report import Report, format_report
from posekit.bench.rows import Goal, Row, compare, goal_results, skipped_row
from posekit.bench.timing import machine_info, sample_ms, summarize

GOALS = (Goal("topdown", None, "rtmlib", ("eager", "onnxruntime"), 1.0, "<= 1.0x rtmlib"),
         Goal("topdown", "vit", "mmpose", ("bf16",), 0.35, "bf16 <= 0.35x MMPose"))


def _row(model: str, backend: str, flip: bool, ms: float | None, *, peer: bool = False, count: int = 3) -> Row:
    row = Row("topdown", model, f"{backend} runner", backend, peer, flip, count, "person",
              median_ms=ms, min_ms=None if ms is None else ms * 0.9, repeats=3)
    return row if ms is not None else skipped_row(row, "not installed\nsecond line")


def test_ratio_is_per_unit_against_the_peer_of_the_same_group():
    rows = [_row("rtm", "rtmlib", False, 90.0, peer=True), _row("rtm", "eager", False, 60.0),
            _row("rtm", "onnxruntime", False, 120.0), _row("rtm", "mmpose", True, 300.0, peer=True),
            _row("rtm", "eager", True, 150.0), _row("vit", "mmpose", True, 1500.0, peer=True, count=1),
            _row("vit", "bf16", True, 1200.0, count=3)]
    got = compare(rows, GOALS)
    assert [r.ratio for r in got] == pytest.approx([None, 60 / 90, 120 / 90, None, 0.5, None, 400 / 1500])
    assert [r.goal_met for r in got] == [None, True, False, None, None, None, True]
    assert got[4].goal is None  # no goal for eager against MMPose in GOALS
    assert got[1].versus == "rtmlib"


def test_skipped_peer_leaves_no_ratio_and_goals_say_not_measured():
    rows = compare([_row("rtm", "rtmlib", False, None, peer=True), _row("rtm", "eager", False, 50.0)], GOALS)
    assert rows[0].reason == "not installed" and rows[1].ratio is None and rows[1].goal == 1.0
    (result,) = goal_results(rows, GOALS)
    assert result.status == "not measured" and "skipped" in result.detail


def test_goal_result_names_the_best_backend():
    rows = compare([_row("rtm", "rtmlib", False, 100.0, peer=True), _row("rtm", "eager", False, 130.0),
                    _row("rtm", "onnxruntime", False, 95.0)], GOALS)
    (result,) = goal_results(rows, GOALS)
    assert result.status == "met" and result.best_ratio == pytest.approx(0.95)
    assert "onnxruntime runner: 0.95x" in result.detail
    text = format_report(Report({"cpu": "X", "cores": 2, "threads": 2}, {"repeats": 3, "warmup": 1}, {},
                                tuple(rows), (result,)))
    assert "0.95x rtmlib" in text and "<= 1.00x met" in text and "<= 1.00x MISSED" in text


def test_sample_ms_times_repeats_after_warmup():
    calls = []
    times = sample_ms(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(times) == 4 and all(t >= 0 for t in times)
    s = summarize([3.0, 1.0, 2.0, 10.0])
    assert (s.median_ms, s.min_ms, s.repeats) == (2.5, 1.0, 4)
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        sample_ms(lambda: None, repeats=0, warmup=0)
    with pytest.raises(ValueError, match="no call was timed"):
        summarize([])


def test_machine_info_describes_this_machine():
    info = machine_info()
    assert info["cpu"] and info["cores"] >= 1 and info["python"].count(".") == 2
    assert info["load_average"] is None or len(info["load_average"]) == 3


def test_busy_machine_is_flagged_from_the_load_before_the_run():
    def first_lines(load_before):
        machine = {"cpu": "X", "cores": 2, "usable_cores": 2, "threads": 2, "load_average": load_before,
                   "load_average_after": [2.0, 2.0, 2.0]}
        return format_report(Report(machine, {"repeats": 1, "warmup": 0})).splitlines()[1]

    assert "WARNING: the CPU was busy before the run (load 6.5, 2 cores, 2 threads)" in first_lines([6.5, 5.0, 3.0])
    assert "WARNING" not in first_lines([0.2, 0.5, 0.7])  # the run's own load afterwards is no warning
