"""The Ray engine of ``posekit batch`` on a real local Ray (2 CPUs), the real BlazePose and real LSP images and video:
the same shards as the local engine and the same keypoints as ``posekit predict``, an actor killed mid-run retried,
a killed driver resumed, and bad inputs reported.

Both engines write byte-identical shards when the local engine also runs with one compute thread, as each Ray actor
does: PyTorch's CPU kernels split their sums by thread count, so 1 and 2 threads differ in the last float bits (up
to 0.3 px on an image, and more on a video, where each frame's crop comes from the last frame's keypoints).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="posekit batch needs pyarrow: pip install 'posekit[batch]'")
ray = pytest.importorskip("ray", reason="the Ray engine needs Ray: pip install 'posekit[ray]'")

import pyarrow.parquet as pq

from posekit.batch.engine import run_batch
from posekit.batch.plan import RunSpec
from tests.conftest import shared_path

SPEC = RunSpec(model="blazepose_full", shard_size=4, batch_size=4)
SPEC2 = RunSpec(model="blazepose_full", shard_size=2, batch_size=4)
"""The killed-actor and resume runs: 24 images in 12 tasks, so a kill lands mid-run."""
COUNTS = ("tasks", "tasks_done", "images", "frames", "rows", "errors", "shards")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs for the module; yields its GCS address."""
    from tests.serve.helpers import need_blazepose

    need_blazepose()  # BlazePose converted into the cache once, before actors load it
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if ray.is_initialized():
        pytest.fail("a Ray is already running in this test process")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=200 * 2**20)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _manifest(path: Path, names: list[str]) -> Path:
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return path


def _lsp(first: int, last: int) -> list[str]:
    images = shared_path("data", "lsp", "images")
    return [str(images / f"im{i:04d}.jpg") for i in range(first, last + 1)]


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory, ray_cluster):
    """12 LSP images and ``mmpose_demo.mp4`` (5 frames), run by the local engine and by Ray: ``{"local": (folder,
    summary), "ray": (folder, summary), "images": paths}``."""
    root = tmp_path_factory.mktemp("small")
    images = _lsp(1, 12)
    source = _manifest(root / "inputs.txt", [*images, str(shared_path("data", "videos", "mmpose_demo.mp4"))])
    out = {"images": images}
    for engine in ("local", "ray"):
        t0 = time.perf_counter()
        summary = run_batch(source, root / engine, SPEC, engine=engine, num_workers=2, progress=False)
        print(f"{engine} engine: {time.perf_counter() - t0:.1f} s")
        out[engine] = (root / engine, summary)
    return out


@pytest.fixture(scope="module")
def clean24(tmp_path_factory):
    """LSP images 1-24 in 12 tasks of 2 (``SPEC2``), run uninterrupted by the local engine: ``(manifest, run
    folder)``; the reference of the killed-actor and killed-driver runs."""
    root = tmp_path_factory.mktemp("clean24")
    source = _manifest(root / "inputs.txt", _lsp(1, 24))
    summary = run_batch(source, root / "run", SPEC2, engine="local", progress=False)
    assert summary["tasks_done"] == 12 and summary["images"] == 24 and summary["errors"] == 0
    return source, root / "run"


def _files(run: Path, sub: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / sub).glob("*.parquet"))}


def _assert_tables_equal(a: pa.Table, b: pa.Table, name: str) -> None:
    assert a.schema == b.schema, name
    assert a.num_rows == b.num_rows, name
    for column in a.column_names:
        x, y = a[column].to_pylist(), b[column].to_pylist()
        if pa.types.is_floating(a.schema.field(column).type) or pa.types.is_list(a.schema.field(column).type):
            for i, (u, v) in enumerate(zip(x, y)):
                assert (u is None) == (v is None), (name, column, i)
                if u is not None:
                    np.testing.assert_allclose(np.asarray(u, np.float64), np.asarray(v, np.float64), rtol=0,
                                               atol=1e-4, err_msg=f"{name}: {column}[{i}]")
        else:
            assert x == y, (name, column)


def _assert_same_shards(run: Path, reference: Path) -> None:
    """The shards and error files of ``run`` are those of ``reference``: the same names, equal tables, equal
    bytes."""
    for sub in ("shards", "errors"):
        got, want = _files(run, sub), _files(reference, sub)
        assert sorted(got) == sorted(want), sub
        for name in want:
            _assert_tables_equal(pq.read_table(run / sub / name), pq.read_table(reference / sub / name), name)
            assert got[name] == want[name], f"{sub}/{name}: same table, other bytes"


def _no_duplicates(run: Path) -> None:
    table = pa.concat_tables(pq.read_table(p) for p in sorted((run / "shards").glob("*.parquet")))
    keys = list(zip(table["file"].to_pylist(), table["frame"].to_pylist(), table["instance"].to_pylist()))
    assert len(keys) == len(set(keys)), "a pose row written twice"


def test_ray_equals_local(small_runs):
    (local, s_local), (ray_run, s_ray) = small_runs["local"], small_runs["ray"]
    assert s_ray["engine"] == "ray" and s_local["engine"] == "local"
    assert {k: s_ray[k] for k in COUNTS} == {k: s_local[k] for k in COUNTS}
    assert s_ray["tasks"] == s_ray["tasks_done"] == 4 and s_ray["ran"] == 4 and s_ray["retries"] == 0
    assert s_ray["images"] == 12 and s_ray["frames"] == 5 and s_ray["errors"] == 0
    # one athlete per LSP image and one person in every video frame: the model found them all
    table = pa.concat_tables(pq.read_table(p) for p in sorted((ray_run / "shards").glob("*.parquet")))
    assert set(table["file"].to_pylist()) >= set(small_runs["images"])
    frames = {f for f, v in zip(table["frame"].to_pylist(), table["file"].to_pylist()) if v.endswith(".mp4")}
    assert sorted(frames) == list(range(5))
    _assert_same_shards(ray_run, local)
    assert (ray_run / "errors.parquet").read_bytes() == (local / "errors.parquet").read_bytes()


def test_ray_equals_predict(small_runs):
    """The shards hold what ``posekit predict --threads 1`` gives for each image (the same estimator, one image per
    call, the run's thread count)."""
    from posekit.batch.work import compute_threads
    from posekit.io.image import load_image
    from posekit.pipelines.registry import build_estimator

    ray_run = small_runs["ray"][0]
    table = pa.concat_tables(pq.read_table(p) for p in sorted((ray_run / "shards").glob("images-*.parquet")))
    est = build_estimator("blazepose_full")
    for path in small_runs["images"]:
        with compute_threads(SPEC.threads):
            poses = est(load_image(path))
        rows = [i for i, f in enumerate(table["file"].to_pylist()) if f == path]
        assert len(rows) == len(poses), path
        for n, i in enumerate(rows):
            assert table["instance"][i].as_py() == n
            got = np.asarray(table["keypoints"][i].as_py(), np.float32).reshape(-1, 2)
            np.testing.assert_allclose(got, poses.keypoints[n], rtol=0, atol=1e-3, err_msg=path)
            np.testing.assert_allclose(table["scores"][i].as_py(), poses.scores[n], rtol=0, atol=1e-5)


def test_last_pass_writes_the_same_files(small_runs, tmp_path):
    """The driver's last pass (for a task the pool left undone) writes what an actor writes, the same bytes, also
    from a driver with 2 compute threads (whose count it gives back)."""
    import shutil

    import torch

    from posekit.batch.plan import Task
    from posekit.batch.local import run_local
    from posekit.batch.rundir import RunDir

    run = tmp_path / "run"
    shutil.copytree(small_runs["ray"][0], run)
    marker = run / "done" / "images-00001.json"
    task = Task.from_json(json.loads(marker.read_text())["task"])
    marker.unlink()
    (run / "shards" / "images-00001.parquet").unlink()
    torch.set_num_threads(2)  # the conftest fixture sets it back after the test
    run_local(SPEC, [task], RunDir(run), progress=False)  # the Ray engine's last pass
    assert torch.get_num_threads() == 2
    assert RunDir(run).is_done(task)
    _assert_same_shards(run, small_runs["ray"][0])


def test_bad_inputs_are_error_rows(tmp_path, ray_cluster):
    """A manifest with a missing file, a truncated JPEG and a text file named .jpg: the run finishes, the three are
    read errors with their reason, the good images have rows."""
    good = _lsp(1, 2)
    truncated = tmp_path / "truncated.jpg"
    data = Path(good[0]).read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image, just a note\n", encoding="utf-8")
    missing = tmp_path / "missing.jpg"
    source = _manifest(tmp_path / "inputs.txt", [*good, str(truncated), str(text), str(missing)])
    summary = run_batch(source, tmp_path / "run", SPEC, engine="ray", num_workers=2, progress=False)
    assert summary["tasks_done"] == summary["tasks"] == 2
    assert summary["images"] == 2 and summary["errors"] == 3
    errors = pq.read_table(tmp_path / "run" / "errors.parquet").to_pylist()
    by_file = {e["file"]: e for e in errors}
    assert sorted(by_file) == sorted(map(str, (truncated, text, missing)))
    assert all(e["stage"] == "read" and e["frame"] is None for e in errors)
    assert "truncated" in by_file[str(truncated)]["message"]
    assert "cannot identify image file" in by_file[str(text)]["message"]
    assert "No such file" in by_file[str(missing)]["message"]
    rows = pa.concat_tables(pq.read_table(p) for p in (tmp_path / "run" / "shards").glob("*.parquet"))
    assert set(rows["file"].to_pylist()) == set(good)


def _done(run: Path) -> int:
    """Tasks with a done marker in ``run``."""
    return len(list((run / "done").glob("*.json"))) if (run / "done").is_dir() else 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _task_actors() -> list[int]:
    """Pids of this test's Ray Data actors of ``TaskActor`` (Ray titles them ``ray::MapWorker(MapBatches(
    TaskActor))``); only processes descended from this one."""
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            if b"TaskActor" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_killed_actor_is_retried(tmp_path, ray_cluster, clean24):
    """SIGKILL one actor once the first task is done: Ray restarts it and reruns its tasks; every task is done once
    and the shards equal an uninterrupted run's."""
    source, reference = clean24
    out = tmp_path / "run"
    finished = threading.Event()
    seen: dict[str, object] = {"killed": None, "before": set(), "new": set()}

    def kill_one() -> None:
        deadline = time.monotonic() + 240
        while not finished.is_set() and time.monotonic() < deadline:
            actors = _task_actors()
            if seen["killed"] is None and actors and _done(out):
                os.kill(actors[0], signal.SIGKILL)
                seen["killed"], seen["before"] = actors[0], set(actors)
                print(f"killed actor {actors[0]} with {_done(out)} of 12 tasks done")
            elif seen["killed"] is not None:
                seen["new"] |= set(actors) - seen["before"]  # the restarted actor: a new process
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    try:
        summary = run_batch(source, out, SPEC2, engine="ray", num_workers=2, progress=False)
    finally:
        finished.set()
        killer.join(timeout=10)
    assert seen["killed"] is not None, "no TaskActor was found to kill"
    assert not _alive(seen["killed"])
    assert seen["new"], "Ray did not restart the killed actor"
    assert _done(out) == 12
    assert summary["tasks"] == summary["tasks_done"] == summary["ran"] == 12
    assert summary["retries"] == 0, "Ray should have retried the dead actor's tasks, not the driver's last pass"
    assert summary["images"] == 24 and summary["errors"] == 0
    assert len(summary["shards"]) == len(set(summary["shards"])) == 12
    _no_duplicates(out)
    _assert_same_shards(out, reference)


DRIVER = textwrap.dedent("""
    import sys
    from posekit.batch.engine import run_batch
    from posekit.batch.plan import RunSpec
    spec = RunSpec(model="blazepose_full", shard_size=2, batch_size=4)
    run_batch(sys.argv[1], sys.argv[2], spec, engine="ray", address=sys.argv[3], num_workers=2, progress=False)
""")


@pytest.mark.slow
def test_resume_after_killed_driver(tmp_path, ray_cluster, clean24):
    """A driver (on the module's Ray, by address) SIGKILLed once a task is done; the rerun runs only the missing
    tasks and the shards equal an uninterrupted run's."""
    source, reference = clean24
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(source), str(out), ray_cluster],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _done(out):
            assert proc.poll() is None, f"the driver ended before a task was done: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no task done in 240 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    done_at_kill = _done(out)
    print(f"driver killed with {done_at_kill} of 12 tasks done")
    assert 1 <= done_at_kill < 12, "the driver was not killed mid-run"
    summary = run_batch(source, out, SPEC2, engine="ray", num_workers=2, progress=False)
    assert summary["resumed"] is True
    assert summary["tasks"] == summary["tasks_done"] == 12 and summary["images"] == 24
    print(f"the rerun ran {summary['ran']} task(s)")
    assert summary["ran"] <= 12 - done_at_kill  # the killed job's actors may finish some before Ray ends them
    _no_duplicates(out)
    _assert_same_shards(out, reference)
    assert json.loads((out / "summary.json").read_text())["ran"] == summary["ran"]
