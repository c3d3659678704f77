"""Shared parts of the serve tests: a real uvicorn server on a free loopback port, standard-library HTTP requests
(``urllib``), multipart bodies, and the BlazePose conversion the servers need before they start."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import uvicorn

from posekit.models.mediapipe_wheel import (
    POSE_DETECTION,
    POSE_LANDMARK_FULL,
    load_mediapipe_module,
)
from posekit.serve import ServeConfig, create_app

IMAGE = ("data", "coco", "openpose_examples", "COCO_val2014_000000000241.jpg")
"""The test image under ``../shared``: 3 people, 480 x 640."""


def need_blazepose() -> None:
    """Convert the BlazePose networks now (first use), so a server's model loads from the cache."""
    load_mediapipe_module(POSE_LANDMARK_FULL)
    load_mediapipe_module(POSE_DETECTION)


class Server:
    """uvicorn running ``create_app(config)`` in a daemon thread on a free loopback port."""

    def __init__(self, config: ServeConfig) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY set
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:  # noqa: PYI034
        self.thread.start()
        wait_ready(self.url)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def http(url: str, data: bytes | None = None, headers: dict | None = None,
         method: str | None = None) -> tuple[int, dict, bytes]:
    """``(status, headers, body)`` of one request (error statuses included)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def multipart(data: bytes, filename: str = "image.jpg", content_type: str = "image/jpeg") -> tuple[bytes, dict]:
    boundary = "posekit-test-boundary-7d9a"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def post_image(url: str, data: bytes, *, raw: bool = False, headers: dict | None = None) -> tuple[int, dict, bytes]:
    if raw:
        return http(url, data, {"Content-Type": "image/jpeg", **(headers or {})}, "POST")
    body, form_headers = multipart(data)
    return http(url, body, {**form_headers, **(headers or {})}, "POST")


def wait_ready(url: str, *, timeout_s: float = 120.0, alive: Callable[[], bool] | None = None,
               log: Callable[[], str] | None = None) -> None:
    """Poll ``url/readyz`` until it answers 200; ``TimeoutError`` after ``timeout_s``, ``RuntimeError`` once
    ``alive()`` turns false (the server process exited), both quoting ``log()``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the server exited before it was ready: {log() if log else ''}")
        try:
            if http(url + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url}/readyz did not answer 200 within {timeout_s:g} s: {log() if log else ''}")


class ServeProcess:
    """``posekit serve ARGS`` in a child process on a free loopback port, ready (``/readyz`` 200) when entered,
    stopped (SIGTERM, then SIGKILL) on exit; its log goes to a temporary file, quoted when it fails."""

    def __init__(self, *args: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.cmd = [sys.executable, "-c", "from posekit.cli import app; app()", "serve", "--host", "127.0.0.1",
                    "--port", str(port), *args]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        self.proc: subprocess.Popen | None = None

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def __enter__(self) -> ServeProcess:  # noqa: PYI034
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        try:
            wait_ready(self.url, alive=lambda: self.proc.poll() is None, log=self.tail)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()
