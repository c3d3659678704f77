"""``posekit batch`` with the local engine on real images and videos (``../shared/data``) and the real BlazePose:
inputs of every kind, the plan, results equal to the estimator run image by image (what ``posekit predict`` does),
byte-identical resume, refusal of mixed runs, error rows for bad inputs, video frame ranges.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="posekit batch needs pyarrow: pip install 'posekit[batch]'")
import pyarrow.parquet as pq

from posekit.batch.engine import run_batch
from posekit.batch.inputs import expand_inputs
from posekit.batch.plan import RunSpec, plan_tasks
from posekit.batch.work import compute_threads
from tests.conftest import shared_path
from tests.serve.helpers import need_blazepose
from tests.serve.test_limits import bomb_png

LSP = ("data", "lsp", "images")
COCO_ANN = ("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
COCO_IMAGES = ("data", "coco", "train2017_subset")
JUGGLE = ("data", "videos", "sam2_juggle.mp4")  # 247 frames
SHORT = ("data", "videos", "mmpose_demo.mp4")  # 5 frames
SPEC = RunSpec(model="blazepose_full", batch_size=4, shard_size=3)


def lsp(*numbers: int) -> list[Path]:
    return [shared_path(*LSP, f"im{n:04d}.jpg") for n in numbers]


def lsp_glob(pattern: str) -> str:
    return str(shared_path(*LSP) / pattern)


def rows(out: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted((out / "shards").glob("*.parquet"))])


@pytest.fixture(scope="module")
def estimator():
    from posekit.eval import build_estimator

    need_blazepose()
    return build_estimator("blazepose_full")[0]


def test_inputs_of_every_kind(tmp_path):
    images = lsp(1, 2, 3)
    (tmp_path / "sub").mkdir()
    for i, p in enumerate(images):
        shutil.copy(p, (tmp_path / "sub" if i else tmp_path) / p.name)
    shutil.copy(shared_path(*SHORT), tmp_path / "sub" / "clip.mp4")
    (tmp_path / "notes.md").write_text("not an input")
    folder = expand_inputs(tmp_path)
    assert [(Path(i.path).name, i.kind) for i in folder] == [
        ("im0001.jpg", "image"), ("clip.mp4", "video"), ("im0002.jpg", "image"), ("im0003.jpg", "image")]
    assert expand_inputs(str(tmp_path / "**" / "*.jpg")) == [i for i in folder if i.kind == "image"]
    manifest = tmp_path / "list.txt"
    manifest.write_text("sub/im0003.jpg\n\nim0001.jpg\n" + str(tmp_path / "sub" / "im0003.jpg") + "\nmissing.png\n")
    listed = expand_inputs(manifest)  # relative to the manifest, duplicates once, sorted, the missing one kept
    assert [Path(i.path).name for i in listed] == ["im0001.jpg", "missing.png", "im0003.jpg"]
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("id,path\n1,im0001.jpg\n2,sub/clip.mp4\n")
    assert [Path(i.path).name for i in expand_inputs(csv_file)] == ["im0001.jpg", "clip.mp4"]
    parquet = tmp_path / "list.parquet"
    pq.write_table(pa.table({"file_name": ["sub/im0002.jpg"]}), parquet)
    assert [Path(i.path).name for i in expand_inputs(parquet)] == ["im0002.jpg"]
    coco = expand_inputs(shared_path(*COCO_ANN), root=shared_path(*COCO_IMAGES))
    assert len(coco) == 28 and all(Path(i.path).is_file() for i in coco)
    bad = tmp_path / "bad.txt"
    bad.write_text("im0001.jpg\nreadme.md\n")
    with pytest.raises(ValueError, match=r"bad.txt: entry 2 \('readme.md'\) is not an image or a video"):
        expand_inputs(bad)
    with pytest.raises(FileNotFoundError, match="no such file, folder or pattern"):
        expand_inputs(tmp_path / "nothing_here")


def test_plan_shards_and_video_ranges():
    items = expand_inputs(lsp_glob("im000*.jpg")) + expand_inputs(shared_path(*JUGGLE))
    tasks = plan_tasks(items, SPEC)
    assert [t.name for t in tasks] == ["images-00000", "images-00001", "images-00002", "video-00000"]
    assert [len(t.paths) for t in tasks] == [3, 3, 3, 1]
    assert plan_tasks(items, SPEC) == tasks  # a pure function of the inputs and the spec
    ranges = plan_tasks(items, RunSpec(model="blazepose_full", track=False, video_chunk=64, every=5))
    video = [t for t in ranges if t.kind == "video"]
    assert [(t.start, t.end) for t in video] == [(0, 60), (60, 120), (120, 180), (180, 240), (240, None)]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        RunSpec(model="blazepose_full", batch_size=0)


def test_local_engine_equals_the_estimator_image_by_image(tmp_path, estimator):
    from posekit import load_image

    files = lsp(*range(1, 8))
    summary = run_batch(lsp_glob("im000[1-7].jpg"), tmp_path / "run", SPEC, engine="local",
                        progress=False)
    assert (summary["images"], summary["errors"], summary["tasks"], summary["ran"]) == (7, 0, 3, 3)
    table = rows(tmp_path / "run")
    assert table.num_rows == summary["rows"] == 7 and set(table.column("model").to_pylist()) == {"blazepose_full"}
    for path in files:
        with compute_threads(SPEC.threads):  # `posekit predict --threads 1`: results depend on the thread count
            want = estimator(load_image(path))
        got = table.filter(pa.compute.equal(table.column("file"), str(path))).to_pylist()
        assert len(got) == len(want) == 1
        np.testing.assert_allclose(np.array(got[0]["keypoints"]).reshape(-1, 2), want.keypoints[0], atol=1e-3)
        np.testing.assert_allclose(got[0]["scores"], want.scores[0], atol=1e-5)
        assert got[0]["skeleton"] == "blazepose33" and got[0]["frame"] == 0 and got[0]["time_s"] is None
        assert len(got[0]["keypoints_3d"]) == 99


def test_resume_is_byte_identical_and_mixed_runs_are_refused(tmp_path):
    source = lsp_glob("im001[0-7].jpg")
    out = tmp_path / "run"
    first = run_batch(source, out, SPEC, engine="local", progress=False)
    shards = {p.name: p.read_bytes() for p in (out / "shards").glob("*.parquet")}
    assert first["ran"] == 3 and len(shards) == 3
    (out / "done" / "images-00001.json").unlink()  # as if the run was killed before this task ended
    (out / "shards" / "images-00001.parquet").unlink()
    again = run_batch(source, out, SPEC, engine="local", progress=False)
    assert again["ran"] == 1 and again["resumed"] is True and again["rows"] == first["rows"]
    assert {p.name: p.read_bytes() for p in (out / "shards").glob("*.parquet")} == shards
    with pytest.raises(ValueError, match=r"holds another run .*batch_size: 4 -> 2"):
        run_batch(source, out, RunSpec(model="blazepose_full", batch_size=2, shard_size=3), engine="local")
    with pytest.raises(ValueError, match="holds another run .*the inputs"):
        run_batch(lsp_glob("im002[0-7].jpg"), out, SPEC, engine="local")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no run.json"):
        run_batch(source, tmp_path / "other", SPEC, engine="local")


def test_bad_inputs_become_error_rows(tmp_path):
    (tmp_path / "corrupt.jpg").write_bytes(shared_path(*LSP, "im0001.jpg").read_bytes()[:300])
    (tmp_path / "text.jpg").write_text("this is not an image\n" * 10)
    (tmp_path / "bomb.png").write_bytes(bomb_png(100_000, 100_000))
    good = lsp(2, 3)
    manifest = tmp_path / "inputs.txt"
    manifest.write_text("\n".join(["missing.jpg", "corrupt.jpg", "text.jpg", "bomb.png", *map(str, good)]))
    summary = run_batch(manifest, tmp_path / "run", SPEC, engine="local", progress=False)
    assert (summary["images"], summary["errors"], summary["rows"]) == (2, 4, 2)
    errors = {Path(r["file"]).name: r for r in pq.read_table(tmp_path / "run" / "errors.parquet").to_pylist()}
    assert set(errors) == {"missing.jpg", "corrupt.jpg", "text.jpg", "bomb.png"}
    assert all(r["stage"] == "read" for r in errors.values())
    assert "No such file" in errors["missing.jpg"]["message"] or errors["missing.jpg"]["error"] == "FileNotFoundError"
    assert "--max-pixels" in errors["bomb.png"]["message"]
    assert {Path(f).name for f in rows(tmp_path / "run").column("file").to_pylist()} == {"im0002.jpg", "im0003.jpg"}


def test_videos_tracked_in_one_task_and_ranges_without_tracking(tmp_path, estimator):
    from posekit.video import iter_video

    out = run_batch(shared_path(*SHORT), tmp_path / "tracked", SPEC, engine="local", progress=False)
    table = rows(tmp_path / "tracked")
    with compute_threads(SPEC.threads):
        want = list(iter_video(estimator, shared_path(*SHORT)))
    assert out["frames"] == 5 and table.num_rows == sum(len(r.poses) for r in want)
    got = [r for r in table.to_pylist()]
    flat = [(r.index, i) for r in want for i in range(len(r.poses))]
    assert [(g["frame"], g["instance"]) for g in got] == flat
    assert [g["track_id"] for g in got] == [int(t) for r in want for t in r.poses.track_ids]
    spec = RunSpec(model="blazepose_full", track=False, video_chunk=100, every=3)
    ranged = run_batch(shared_path(*JUGGLE), tmp_path / "ranges", spec, engine="local", progress=False)
    frames = sorted(set(rows(tmp_path / "ranges").column("frame").to_pylist()))
    assert ranged["tasks"] == 3 and ranged["frames"] == 83  # frames 0, 3, ..., 246 once each, over 3 ranges
    assert set(frames) <= set(range(0, 247, 3)) and len(frames) > 60


def test_cli(tmp_path):
    out = tmp_path / "run"
    def batch(*options: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "posekit.cli", "batch", lsp_glob("im000[1-3].jpg"), "--out", str(out),
               "--no-progress", *options]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    result = batch("--model", "blazepose_full", "--engine", "local")
    assert result.returncode == 0, result.stderr
    assert "3 image(s)" in result.stdout and "1 of 1 task(s) run now" in result.stdout
    assert json.loads((out / "summary.json").read_text())["rows"] == 3
    again = batch("--model", "blazepose_lite", "--engine", "local")
    assert again.returncode == 2 and "never mixed" in again.stderr
    bad = batch("--model", "blazepose_full", "--engine", "spark")
    assert bad.returncode == 2 and "--engine must be one of local, ray" in bad.stderr
