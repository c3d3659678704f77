"""Video jobs of the real service (uvicorn on loopback, the real BlazePose, real clips from ``../shared/data/videos``):
results equal to the in-process video runner, cancel, expiry, disconnects, bad uploads, the job bound, and that no
file is left outside (or, after the job, inside) the jobs folder.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")

from posekit.io.video import VideoReader
from posekit.lift.io import read_results_jsonl
from posekit.serve import ServeConfig
from tests.conftest import shared_path
from tests.serve.helpers import Server, http, need_blazepose

SHORT = ("data", "videos", "mmpose_demo.mp4")  # 5 frames, 960 x 540
SQUAT = ("data", "videos", "squat_1.mp4")  # 65 frames, 720 x 1280, one person squatting
LONG = ("data", "videos", "sam2_juggle.mp4")  # 247 frames, 1280 x 720


def video_form(data: bytes, field: str = "video") -> tuple[bytes, dict]:
    boundary = "posekit-video-boundary-51c2"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"../../clip.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def submit(url: str, data: bytes, query: str = "", *, form: bool = True) -> tuple[int, dict, dict]:
    body, headers = video_form(data) if form else (data, {"Content-Type": "application/octet-stream"})
    status, response_headers, raw = http(url + "/v1/videos" + query, body, headers, "POST")
    return status, response_headers, json.loads(raw)


def wait_for(url: str, job_id: str, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = json.loads(http(f"{url}/v1/jobs/{job_id}")[2])
        if job.get("status") in states:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not in {states} after {timeout} s: {job}")


def job_folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_dir()]


def leftovers(root: Path) -> list[Path]:
    """Job folders of uploads that never became a job, or holding an uploaded video after the job ended."""
    out = []
    for folder in job_folders(root):
        state = json.loads((folder / "job.json").read_text()) if (folder / "job.json").exists() else None
        if state is None or state["status"] == "receiving" or list(folder.glob("input.*")):
            out.append(folder)
    return out


def state_of(folder: Path) -> dict:
    return json.loads((folder / "job.json").read_text())


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def server(jobs_dir):
    need_blazepose()
    config = ServeConfig(model="blazepose_full", jobs_dir=str(jobs_dir), max_video_bytes=3 * 2**20, max_jobs=2)
    with Server(config) as s:
        yield s
    assert not leftovers(jobs_dir)
    assert not [f for f in job_folders(jobs_dir) if state_of(f)["status"] in ("queued", "running")]


def test_video_job_results_equal_the_in_process_runner(server, jobs_dir, tmp_path):
    from posekit.eval import build_estimator
    from posekit.video import run_video

    video = shared_path(*SQUAT)
    status, headers, job = submit(server.url, video.read_bytes(), "?format=webm&smooth=one-euro")
    assert status == 202 and headers["location"] == f"/v1/jobs/{job['id']}", job
    assert job["status"] in ("queued", "running") and job["model"] == "blazepose_full"
    done = wait_for(server.url, job["id"], ("done", "failed"))
    assert done["status"] == "done" and done["error"] is None, done
    assert done["progress"] == {"frames": 65, "total": 65, "fraction": 1.0}
    assert done["expires_s"] > time.time() + 3000
    assert set(done["files"]) == {"jsonl", "csv", "video", "summary"}
    files = {kind: http(server.url + url) for kind, url in done["files"].items()}
    assert all(status == 200 for status, _, _ in files.values())
    assert files["video"][1]["content-type"] == "video/webm" and files["video"][2][:4] == b"\x1a\x45\xdf\xa3"

    # the JSON lines are the in-process runner's on the same file, frame by frame
    want = tmp_path / "want.jsonl"
    run_video(build_estimator("blazepose_full")[0], video, json_path=want, smooth="one-euro", progress=False)
    (tmp_path / "got.jsonl").write_bytes(files["jsonl"][2])
    got, errors = read_results_jsonl(tmp_path / "got.jsonl")
    ref, _ = read_results_jsonl(want)
    assert not errors and len(got) == len(ref) == 65
    for (gi, gt, gp), (ri, rt, rp) in zip(got, ref):
        assert gi == ri and gt == pytest.approx(rt) and len(gp) == len(rp)
        np.testing.assert_allclose(gp.keypoints, rp.keypoints, atol=1e-3)
        assert np.array_equal(gp.track_ids, rp.track_ids)
    rows = list(csv.reader(io.StringIO(files["csv"][2].decode())))
    assert rows[0] == ["frame", "time_s", "instance", "track_id", "keypoint", "x", "y", "score"]
    assert len(rows) - 1 == 33 * sum(len(p) for _, _, p in ref)
    annotated = tmp_path / "annotated.webm"
    annotated.write_bytes(files["video"][2])
    with VideoReader(annotated) as reader:
        assert sum(1 for _ in reader) == 65 and reader.size == (720, 1280)
    summary = json.loads(files["summary"][2])
    assert summary == done["summary"]
    assert summary["video"]["frames"] == 65 and summary["video"]["error"] is None
    assert summary["analysis"]["frames"] == 65 and summary["analysis"]["signal"] in ("knee", "hip", "elbow",
                                                                                         "shoulder")
    assert summary["analysis"]["repetitions"] >= 1  # the clip is of squats
    assert str(jobs_dir) not in json.dumps(summary)  # no server path leaks into answers

    # the uploaded video is gone; deleting the job deletes its folder
    folder = next(p for p in job_folders(jobs_dir) if p.name == job["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["annotated.webm", "job.json", "poses.csv", "poses.jsonl",
                                                         "summary.json"]
    assert json.loads(http(f"{server.url}/v1/jobs/{job['id']}", method="DELETE")[2]) == {
        "id": job["id"], "status": "deleted"}
    assert not folder.exists()
    status, _, body = http(f"{server.url}/v1/jobs/{job['id']}")
    assert status == 404 and json.loads(body)["error"]["code"] == "job_not_found"


def test_cancel_stops_a_running_job_and_deletes_its_folder(server, jobs_dir):
    status, _, job = submit(server.url, shared_path(*LONG).read_bytes(), "?smooth=none", form=False)
    assert status == 202
    running = wait_for(server.url, job["id"], ("running",), timeout=60)
    assert running["progress"]["total"] == 247
    deadline = time.monotonic() + 60
    while json.loads(http(f"{server.url}/v1/jobs/{job['id']}")[2])["progress"]["frames"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _, body = http(f"{server.url}/v1/jobs/{job['id']}", method="DELETE")
    assert status == 200 and json.loads(body)["status"] == "cancelled"
    folder = jobs_dir / job["id"]
    deadline = time.monotonic() + 30
    while state_of(folder)["status"] != "cancelled":  # the owner stopped after its current frame
        assert time.monotonic() < deadline, "the cancelled job never stopped"
        time.sleep(0.05)
    assert [p.name for p in folder.iterdir()] == ["job.json"]  # the upload and the partial results are gone
    after = json.loads(http(f"{server.url}/v1/jobs/{job['id']}")[2])
    assert after["status"] == "cancelled" and after["progress"]["frames"] < 247 and after["files"] is None
    metrics = http(server.url + "/metrics")[2].decode()
    assert 'posekit_video_jobs{status="cancelled"} 1' in metrics and 'posekit_video_jobs{status="running"} 0' in metrics
    assert http(f"{server.url}/v1/jobs/{job['id']}/files/poses.jsonl")[0] == 404
    assert http(server.url + "/healthz")[0] == 200


def _cut(data: bytes, n: int) -> bytes:
    return data[:n]


@pytest.mark.parametrize("name, make, status, code", [
    ("text named .mp4", lambda v: b"not a video at all\n" * 50, 415, "unsupported_media_type"),
    ("zero bytes", lambda v: b"", 400, "empty_upload"),
    ("too big", lambda v: v + bytes(4 * 2**20), 413, "payload_too_large"),
    ("an image", lambda v: shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000241.jpg"
                                       ).read_bytes(), 415, "unsupported_media_type"),
    ("MP4 header only", lambda v: _cut(v, 2000), 400, "bad_video"),
])
def test_bad_video_uploads_leave_nothing(server, jobs_dir, name, make, status, code):
    got, _, body = submit(server.url, make(shared_path(*SHORT).read_bytes()))
    assert (got, body["error"]["code"]) == (status, code), body
    assert not leftovers(jobs_dir)
    assert http(server.url + "/healthz")[0] == 200


def test_form_without_video_field_and_bad_ids(server):
    body, headers = video_form(shared_path(*SHORT).read_bytes(), field="clip")
    status, _, raw = http(server.url + "/v1/videos", body, headers, "POST")
    assert status == 400 and json.loads(raw)["error"]["code"] == "missing_video"
    for path in ("/v1/jobs/nope", "/v1/jobs/..%2F..%2Fetc", "/v1/jobs/" + "0" * 32,
                 "/v1/jobs/" + "0" * 32 + "/files/..%2F..%2Fpasswd"):
        status, _, raw = http(server.url + path)
        assert status == 404, path
    assert http(server.url + "/v1/videos?smooth=median", b"x", {}, "POST")[0] == 400


def test_client_disconnect_mid_upload_leaves_no_files(server, jobs_dir):
    data = shared_path(*LONG).read_bytes()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /v1/videos HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data[: len(data) // 3])
        deadline = time.monotonic() + 20  # the partial upload reaches the job folder ...
        while not any((p / "input.mp4").exists() for p in job_folders(jobs_dir)):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.02)
    deadline = time.monotonic() + 20  # ... and is deleted, with its folder, once the client is gone
    while leftovers(jobs_dir):
        assert time.monotonic() < deadline, f"left behind: {job_folders(jobs_dir)}"
        time.sleep(0.05)
    assert http(server.url + "/healthz")[0] == 200


def test_job_bound_expiry_and_ephemeral_root():
    need_blazepose()
    config = ServeConfig(model="blazepose_full", max_jobs=1, job_ttl_s=1.0)  # no jobs_dir: a temporary root
    with Server(config) as s:
        root = s.server.config.app.state.service.jobs.root
        first = submit(s.url, shared_path(*LONG).read_bytes(), "?every=4")
        assert first[0] == 202
        second = submit(s.url, shared_path(*SHORT).read_bytes())
        assert second[0] == 503 and second[1]["retry-after"] == "1" and second[2]["error"]["code"] == "too_many_jobs"
        done = wait_for(s.url, first[2]["id"], ("done", "failed"))
        assert done["status"] == "done" and done["progress"]["frames"] == 62
        assert submit(s.url, shared_path(*SHORT).read_bytes())[0] == 202  # the slot is free again
        deadline = time.monotonic() + 20
        while http(f"{s.url}/v1/jobs/{first[2]['id']}")[0] != 404:  # expired after job_ttl_s
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert not (root / first[2]["id"]).exists()
    assert not root.exists()  # results are ephemeral without --jobs-dir: the root goes when the server stops


def test_results_persist_across_a_restart_and_running_jobs_end_interrupted(tmp_path):
    need_blazepose()
    config = ServeConfig(model="blazepose_full", jobs_dir=str(tmp_path))
    with Server(config) as s:
        done_id = submit(s.url, shared_path(*SHORT).read_bytes())[2]["id"]
        assert wait_for(s.url, done_id, ("done", "failed"))["status"] == "done"
        jsonl = http(f"{s.url}/v1/jobs/{done_id}/files/poses.jsonl")[2]
        cut_id = submit(s.url, shared_path(*LONG).read_bytes())[2]["id"]
        wait_for(s.url, cut_id, ("running",))
    with Server(config) as s:  # a new server on the same --jobs-dir
        job = json.loads(http(f"{s.url}/v1/jobs/{done_id}")[2])
        assert job["status"] == "done" and http(f"{s.url}/v1/jobs/{done_id}/files/poses.jsonl")[2] == jsonl
        cut = json.loads(http(f"{s.url}/v1/jobs/{cut_id}")[2])
        assert cut["status"] == "failed" and cut["error"]["code"] == "interrupted"
        assert [p.name for p in (tmp_path / cut_id).iterdir()] == ["job.json"]


def test_a_stalled_upload_gets_408_and_leaves_nothing(tmp_path):
    need_blazepose()
    with Server(ServeConfig(model="blazepose_full", jobs_dir=str(tmp_path), timeout_s=1.0)) as s:
        host, port = s.url.removeprefix("http://").split(":")
        head = shared_path(*SHORT).read_bytes()[:4096]
        for path in ("/v1/videos", "/v1/poses"):
            with socket.create_connection((host, int(port)), timeout=20) as sock:
                sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                              f"Content-Length: 100000\r\n\r\n").encode() + head)  # ... and then nothing
                t0 = time.monotonic()
                answer = b""
                while b"upload_timeout" not in answer and (chunk := sock.recv(65536)):
                    answer += chunk
                answer = answer.decode(errors="replace")
                assert answer.startswith("HTTP/1.1 408") and "upload_timeout" in answer, answer
                assert 0.5 < time.monotonic() - t0 < 10
        assert not leftovers(tmp_path) and not job_folders(tmp_path)
        assert http(s.url + "/healthz")[0] == 200
