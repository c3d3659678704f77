"""``posekit bench`` end to end on a tiny configuration: the table, the hardware line, skipped peers, JSON.

No timing assertions: the machine is shared. The command is the Typer function ``posekit.bench.command.bench``
in an app of its own (the same signature ``posekit bench`` uses)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from posekit.bench.command import bench, run_bench
from posekit.bench.inputs import synthetic_image
from posekit.io.image import save_image


def _invoke(*args: str):
    app = typer.Typer()
    app.command()(bench)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def small_image(tmp_path: Path) -> Path:
    return save_image(tmp_path / "small.png", synthetic_image(height=64, width=48))


def _fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for a peer's Python: ignores its arguments and runs the shell ``body``."""
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\ncat > /dev/null\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_tiny_run_prints_the_table_with_the_hardware_line_and_writes_json(tmp_path: Path, small_image: Path):
    out = tmp_path / "bench.json"
    missing = tmp_path / "no-such-venv" / "bin" / "python"
    res = _invoke("--suite", "topdown", "--models", "rtmpose_t", "--backends", "eager", "--repeats", "1",
                  "--warmup", "0", "--image", str(small_image), "--rtmlib-python", str(missing),
                  "--mmpose-python", str(missing), "--json", str(out))
    assert res.exit_code == 0, res.output
    text = res.stdout
    first = text.splitlines()[0]
    assert first.startswith("posekit bench | ") and "torch " in first and "with 2 threads" in first
    assert "load average before" in text
    assert "small.png (48x64), 1 person box(es)" in text
    # flip off (against rtmlib) and flip on (against MMPose): a timed posekit row and a skipped peer row each
    eager = [line for line in text.splitlines() if "posekit eager" in line]
    assert len(eager) == 2 and all("skipped" not in line for line in eager)
    assert f"skipped: --rtmlib-python {missing} does not exist" in text
    assert f"skipped: --mmpose-python {missing} does not exist" in text
    assert "goals:" in text and "not measured" in text

    data = json.loads(out.read_text())
    assert data["settings"]["models"] == ["rtmpose_t_coco_256x192"] and data["machine"]["threads"] == 2
    rows = data["rows"]
    assert [(r["runner"], r["flip"]) for r in rows] == [
        ("rtmlib RTMPose", False), ("posekit eager", False), ("MMPose inference_topdown", True),
        ("posekit eager", True)]
    timed = [r for r in rows if r["runner"] == "posekit eager"]
    assert all(r["median_ms"] > 0 and r["min_ms"] <= r["median_ms"] and r["repeats"] == 1 for r in timed)
    assert all(r["per_unit_ms"] == r["median_ms"] for r in timed)  # one box: per person = per call
    assert all(r["ratio"] is None and r["goal"] is not None and r["goal_met"] is None for r in timed)


def test_failing_peer_is_skipped_with_the_tail_of_its_stderr(tmp_path: Path, small_image: Path):
    fake = _fake_python(tmp_path, "echo 'starting' >&2\necho \"ModuleNotFoundError: No module named 'mmpose'\" >&2"
                                  "\nexit 3")
    report = run_bench(suite="topdown", models=["rtmpose_t"], backends=["eager"], repeats=1, warmup=0,
                       image=small_image, mmpose_python=fake, rtmlib_python=tmp_path / "absent")
    peer = next(r for r in report.rows if r.backend == "mmpose")
    assert not peer.timed
    assert peer.reason == (f"{fake} exited with status 3: starting | ModuleNotFoundError: No module named "
                           "'mmpose'")
    posekit_on = next(r for r in report.rows if r.backend == "eager" and r.flip)
    assert posekit_on.timed and posekit_on.ratio is None


def test_peer_with_unreadable_output_is_skipped(tmp_path: Path, small_image: Path):
    fake = _fake_python(tmp_path, "echo 'hello, not JSON'")
    report = run_bench(suite="mediapipe", backends=["eager"], repeats=1, warmup=0, image=small_image,
                       mediapipe_python=fake)
    peer = next(r for r in report.rows if r.is_peer)
    assert peer.reason == f"{fake} printed no JSON object: hello, not JSON"


def test_bad_options_are_clear_errors(small_image: Path):
    res = _invoke("--suite", "everything")
    assert res.exit_code == 2 and "suite must be one of all, topdown, mediapipe" in res.output
    res = _invoke("--backends", "eager,tensorrt", "--suite", "topdown")
    assert res.exit_code == 2 and "backends must be among" in res.output and "tensorrt" in res.output
    res = _invoke("--suite", "topdown", "--models", "blazepose_full")
    assert res.exit_code == 2 and "not a top-down model" in res.output
    res = _invoke("--suite", "topdown", "--image", str(small_image.with_name("absent.png")))
    assert res.exit_code == 2 and "absent.png does not exist" in res.output
    with pytest.raises(ValueError, match="weights is for one top-down model"):
        run_bench(suite="topdown", models=["rtmpose_t", "rtmpose_s"], weights=small_image)


def test_threads_are_restored_after_the_run(small_image: Path):
    import torch

    before = torch.get_num_threads()
    run_bench(suite="topdown", models=["rtmpose_t"], backends=["eager"], threads=1, repeats=1, warmup=0,
              image=small_image, mmpose_python="/absent", rtmlib_python="/absent")
    assert torch.get_num_threads() == before


def test_synthetic_image_is_deterministic_rgb():
    a, b = synthetic_image(seed=3), synthetic_image(seed=3)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert a.std() > 10  # not a flat image
