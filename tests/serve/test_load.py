"""Load and faults on the real service (issue 20): uvicorn on 127.0.0.1 serving the real BlazePose, real HTTP from
client threads (``http.client`` keep-alive connections, ``urllib``, raw sockets), everything bounded in time.

* 1,000 image requests at client concurrency 8: zero failures, p50/p99 latency and req/s printed (``pytest -s``),
  the request counter of ``/metrics`` up by exactly 1,000 and the queue empty afterwards.
* A burst of 20 simultaneous requests on a server with room for 3 (1 running + 2 waiting, each held 0.5 s): the
  rest get 503 ``overloaded`` with ``Retry-After``, the queue gauges never pass the bound, the server stays healthy.
* A mixed stream from 8 threads: good requests interleaved with every kind of bad upload or broken client (too big,
  truncated, empty, text, decompression bomb, multipart without ``image``, body cut off by a disconnect, a silent
  connection, garbage bytes): each answered as expected, every good request served, no 5xx, no leaked file
  descriptors, the queue empty.
* Timeouts: a request still waiting or running after ``timeout_s`` gets 504 ``timeout``; the server serves again
  once the held work has finished.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")

from posekit.serve import ServeConfig
from tests.conftest import shared_path
from tests.serve.helpers import (
    IMAGE,
    ServeProcess,
    Server,
    http,
    multipart,
    need_blazepose,
    post_image,
)
from tests.serve.test_limits import bomb_png

PEOPLE = 3  # persons in the test image that BlazePose finds
POSES_200 = 'posekit_requests_total{endpoint="/v1/poses",method="POST",status="200"}'


@pytest.fixture(scope="module")
def image_bytes() -> bytes:
    return shared_path(*IMAGE).read_bytes()


def metrics(url: str) -> dict[str, float]:
    """``/metrics`` as ``{"name{labels}": value}`` (absent counters read as missing keys)."""
    status, _, body = http(url + "/metrics")
    assert status == 200, body[:300]
    out = {}
    for line in body.decode().splitlines():
        match = re.match(r"^([^#\s][^ ]*) (\S+)$", line)
        if match:
            out[match.group(1)] = float(match.group(2))
    return out


def wait_idle(url: str, timeout_s: float = 30.0) -> dict[str, float]:
    """Poll ``/metrics`` until nothing waits or runs; the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        m = metrics(url)
        if m["posekit_queue_depth"] == 0 and m["posekit_inference_running"] == 0:
            return m
        assert time.monotonic() < deadline, f"the queue did not drain within {timeout_s} s: {m}"
        time.sleep(0.05)


class KeepAlive:
    """One HTTP/1.1 keep-alive connection (``http.client``) used for many requests, as a real client does."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = HTTPConnection(parts.hostname, parts.port, timeout=60)

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def check_good(status: int, body: bytes) -> str | None:
    """``None`` for a 200 with the test image's poses, else what is wrong."""
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    n = len(json.loads(body)["poses"])
    return None if n == PEOPLE else f"{n} poses, not {PEOPLE}"


def test_1000_requests_at_concurrency_8(image_bytes):
    """The real ``posekit serve`` in its own process, as deployed. (In this process the server's inference takes
    ~1.6x as long once PyTorch has run on the main thread, as earlier tests and ``need_blazepose`` do: two OpenMP
    thread teams on 2 cores. That would measure the test process, not the service.)"""
    need_blazepose()
    body, headers = multipart(image_bytes)
    local = threading.local()
    clients: list[KeepAlive] = []

    def one(_: int) -> tuple[float, str | None, float]:
        """``(seconds, what is wrong or None, the server's inference ms)`` of one request."""
        if not hasattr(local, "client"):
            local.client = KeepAlive(server.url)
            clients.append(local.client)
        t0 = time.perf_counter()
        try:
            status, answer = local.client.post("/v1/poses", body, headers)
        except OSError as exc:  # a dropped connection counts as a failure
            return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}", float("nan")
        seconds, wrong = time.perf_counter() - t0, check_good(status, answer)
        return seconds, wrong, float("nan") if wrong else json.loads(answer)["timing_ms"]["inference"]

    t_test = time.perf_counter()
    # --timeout-s 300: the request timeout is tested elsewhere; here a machine busy with other jobs (inference 5x
    # slower, seen in a clean-clone run beside other work) must not turn queueing into 504s.
    with ServeProcess("--model", "blazepose_full", "--max-queue", "16", "--concurrency", "1",
                      "--timeout-s", "300") as server:
        before = metrics(server.url).get(POSES_200, 0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(1000)))
        wall = time.perf_counter() - t0
        for client in clients:
            client.close()
        after = wait_idle(server.url, timeout_s=5)
        log = server.tail()
    latency = np.array([r[0] for r in results]) * 1000.0
    failures = [r[1] for r in results if r[1] is not None]
    p50, p99 = np.percentile(latency, [50, 99])
    inference = np.nanmean([r[2] for r in results]) if len(failures) < len(results) else float("nan")
    summary = (f"1000 requests at concurrency 8 in {wall:.1f} s: {1000 / wall:.2f} req/s, p50 {p50:.0f} ms, p99 "
               f"{p99:.0f} ms (server inference {inference:.0f} ms per request), {len(failures)} failures; test "
               f"{time.perf_counter() - t_test:.1f} s, load average {os.getloadavg()[0]:.2f}")
    print("\n" + summary)
    assert not failures, f"{summary}; first failures: {failures[:5]}; server log: {log}"
    assert after[POSES_200] - before == 1000, summary
    assert after["posekit_queue_depth"] == 0 and after["posekit_inference_running"] == 0, summary
    assert "Traceback" not in log, log


def test_burst_above_the_queue_bound_gets_503_and_the_server_recovers(image_bytes):
    need_blazepose()
    config = ServeConfig(model="blazepose_full", concurrency=1, max_queue=2, delay_s=0.5, retry_after_s=2)
    bound = config.concurrency + config.max_queue
    with Server(config) as server:
        url = server.url
        peaks = {"waiting": 0, "running": 0, "both": 0}
        done = threading.Event()

        def watch() -> None:  # the queue gauges, sampled during the burst
            while not done.is_set():
                m = metrics(url)
                waiting, running = m["posekit_queue_depth"], m["posekit_inference_running"]
                peaks.update(waiting=max(peaks["waiting"], waiting), running=max(peaks["running"], running),
                             both=max(peaks["both"], waiting + running))
                time.sleep(0.01)

        start = threading.Barrier(20)

        def one(_: int) -> tuple[int, dict, bytes]:
            start.wait(timeout=30)
            return post_image(url + "/v1/poses", image_bytes)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(one, range(20)))
        finally:
            done.set()
            watcher.join(timeout=30)
        statuses = sorted(a[0] for a in answers)
        refused = [a for a in answers if a[0] == 503]
        assert set(statuses) <= {200, 503}, statuses
        assert len(refused) >= 1 and statuses.count(200) >= bound, statuses  # the first `bound` always get in
        for _, headers, body in refused:
            assert headers["retry-after"] == "2" and json.loads(body)["error"]["code"] == "overloaded"
        assert all(check_good(s, b) is None for s, _, b in answers if s == 200)
        assert peaks["running"] <= config.concurrency and peaks["waiting"] <= config.max_queue, peaks
        assert 1 <= peaks["both"] <= bound, peaks
        m = wait_idle(url)
        assert m['posekit_errors_total{code="overloaded"}'] == len(refused)
        assert http(url + "/healthz")[0] == 200 and http(url + "/readyz")[0] == 200
        assert check_good(*post_image(url + "/v1/poses", image_bytes)[::2]) is None


def _raw(url: str, data: bytes, *, read: bool) -> bytes:
    """Send ``data`` on a new socket; the answer's first bytes when ``read`` (the server may also just close)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        if data:
            sock.sendall(data)
        if not read:
            return b""
        try:
            return sock.recv(64)
        except ConnectionResetError:
            return b""


def _fault_kinds(image: bytes, url: str) -> list:
    """``(name, send)``: ``send()`` makes one bad request and returns ``None`` when the answer is the expected one,
    else a description of the unexpected answer."""
    host = urlsplit(url).netloc

    def upload(data: bytes, status: int, code: str, *, form: tuple[bytes, dict] | None = None):
        def send() -> str | None:
            if form is None:
                got, _, body = post_image(url + "/v1/poses", data)
            else:
                got, _, body = http(url + "/v1/poses", form[0], form[1], "POST")
            answer = json.loads(body)["error"]["code"] if body.startswith(b"{") else body[:100]
            return None if (got, answer) == (status, code) else f"{got} {answer!r}, expected {status} {code}"
        return send

    no_image = multipart(image)
    no_image = (no_image[0].replace(b'name="image"', b'name="picture"'), no_image[1])
    head = (f"POST /v1/poses HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: 512000\r\n\r\n").encode()

    def cut_off() -> None:  # announces 500 kB, sends 100 kB, hangs up
        _raw(url, head + image[:100_000], read=False)

    def silent() -> None:  # connects, says nothing, hangs up
        _raw(url, b"", read=False)

    def garbage() -> str | None:  # not HTTP: a 400 or a closed connection, never a 5xx
        answer = _raw(url, bytes(range(256)) * 4 + b"\r\n\r\n", read=True)
        return None if answer == b"" or answer.startswith(b"HTTP/1.1 400") else f"answer {answer!r}"

    return [
        ("too big", upload(image + bytes(2 * 2**20), 413, "payload_too_large")),
        ("truncated JPEG", upload(image[: len(image) // 2], 400, "bad_image")),
        ("zero bytes", upload(b"", 400, "empty_upload")),
        ("text", upload(b"not an image at all\n" * 30, 415, "unsupported_media_type")),
        ("decompression bomb", upload(bomb_png(100_000, 100_000), 413, "too_many_pixels")),
        ("no image field", upload(b"", 400, "missing_image", form=no_image)),
        ("disconnect mid-upload", cut_off),
        ("silent connection", silent),
        ("garbage bytes", garbage),
    ]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class ErrorLog(logging.Handler):
    """Keeps the ERROR records of uvicorn's error logger (e.g. "Exception in ASGI application" with a traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.getMessage()} ({record.exc_info[1]!r})" if record.exc_info
                            else record.getMessage())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors in /proc")
def test_faults_interleaved_with_good_requests(image_bytes):
    need_blazepose()
    body, headers = multipart(image_bytes)
    errors = ErrorLog()
    logger = logging.getLogger("uvicorn.error")
    with Server(ServeConfig(model="blazepose_full", max_upload_bytes=2**20)) as server:
        logger.addHandler(errors)  # after uvicorn configured its loggers (that drops their handlers)
        kinds = _fault_kinds(image_bytes, server.url)
        assert check_good(*post_image(server.url + "/v1/poses", image_bytes)[::2]) is None  # warm
        fds = _open_fds()

        def client(worker: int) -> list[str]:
            problems = []
            conn = KeepAlive(server.url)
            try:
                for i in range(10):
                    name, send = kinds[(worker + i) % len(kinds)]
                    try:
                        wrong = send()
                    except OSError as exc:
                        wrong = f"{type(exc).__name__}: {exc}"
                    if wrong:
                        problems.append(f"{name}: {wrong}")
                    try:
                        wrong = check_good(*conn.post("/v1/poses", body, headers))
                    except OSError as exc:
                        wrong = f"{type(exc).__name__}: {exc}"
                    if wrong:
                        problems.append(f"good request after {name}: {wrong}")
            finally:
                conn.close()
            return problems

        with ThreadPoolExecutor(8) as pool:
            problems = [p for worker in pool.map(client, range(8)) for p in worker]
        logger.removeHandler(errors)
        assert not problems, problems
        assert not errors.records, f"the server logged {len(errors.records)} errors: {errors.records[:3]}"
        m = wait_idle(server.url)
        assert m[POSES_200] == 1 + 80
        server_errors = {k: v for k, v in m.items() if k.startswith("posekit_requests_total")  # /readyz: 503
                         and re.search(r'status="5\d\d"', k) and 'endpoint="/readyz"' not in k}  # while loading
        assert not server_errors, server_errors
        assert http(server.url + "/healthz")[0] == 200 and http(server.url + "/readyz")[0] == 200
        assert check_good(*post_image(server.url + "/v1/poses", image_bytes)[::2]) is None
        deadline = time.monotonic() + 10  # closed connections (and any spooled upload) give their descriptors back
        while _open_fds() > fds + 2:
            assert time.monotonic() < deadline, f"{_open_fds()} open descriptors, {fds} before the faults"
            time.sleep(0.1)


def test_timeouts_answer_504_and_the_server_serves_again(image_bytes):
    need_blazepose()
    with Server(ServeConfig(model="blazepose_full", concurrency=1, timeout_s=3.0, delay_s=2.0)) as server:
        url = server.url
        answers: dict[str, tuple[int, bytes, float]] = {}

        def send(name: str) -> None:
            t0 = time.perf_counter()
            status, _, body = post_image(url + "/v1/poses", image_bytes)
            answers[name] = (status, body, time.perf_counter() - t0)

        threads = {}
        for name in ("first", "second", "third"):  # one runs (2 s + inference); the other two wait behind it
            threads[name] = threading.Thread(target=send, args=(name,))
            threads[name].start()
            deadline = time.monotonic() + 10
            while metrics(url)["posekit_queue_depth"] + metrics(url)["posekit_inference_running"] < len(threads):
                assert time.monotonic() < deadline, f"{name} was not admitted"
                time.sleep(0.02)
        for thread in threads.values():
            thread.join(timeout=30)
        first, second, third = (answers[n] for n in ("first", "second", "third"))
        assert first[0] == 200 and len(json.loads(first[1])["poses"]) == PEOPLE, first
        for status, body, seconds in (second, third):  # second: timed out while running, third: while queued
            assert status == 504 and json.loads(body)["error"]["code"] == "timeout", (status, body)
            assert 2.9 < seconds < 10, seconds
        m = wait_idle(url, timeout_s=15)  # the second's held work finishes; the third never ran
        assert m['posekit_errors_total{code="timeout"}'] == 2
        assert http(url + "/healthz")[0] == 200 and http(url + "/readyz")[0] == 200
        t0 = time.perf_counter()
        assert check_good(*post_image(url + "/v1/poses", image_bytes)[::2]) is None
        assert time.perf_counter() - t0 < 3.0
