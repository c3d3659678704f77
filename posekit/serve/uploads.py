"""Reading a request's upload: an image into memory (:func:`read_image`), a video streamed to a job's own folder
(:func:`receive_video`). Both take the multipart field (``image`` / ``video``) or the raw body, and stop reading
past the size limit.

A video is written to ``folder/input.<ext>`` and nowhere else: no file name, path or extension from the request is
used (the extension comes from the content, :func:`posekit.serve.limits.sniff_video`), and the multipart parser
streams into that one file (never into the system's temp folder). If the client disconnects or the upload is
refused, the partial file is deleted before the error propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from starlette.requests import ClientDisconnect, Request

from posekit.serve.limits import ApiError, megabytes, sniff_type, sniff_video

try:  # python-multipart >= 0.0.13 names its module python_multipart; 0.0.9 (the oldest tested) multipart
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # pragma: no cover (oldest constraints)
    from multipart.multipart import MultipartParser, parse_options_header

__all__ = ["MULTIPART_SLACK", "read_image", "receive_video"]

MULTIPART_SLACK = 64 * 1024
"""Bytes of form boundaries and part headers allowed on top of the upload limit."""
DRAIN_FACTOR = 4
"""An image upload up to 4x the limit is read to its end before the 413, so the client gets the answer."""
SNIFF_BYTES = 64
"""Bytes of a video needed to tell its container."""
VIDEO_DRAIN = 16 * 2**20
"""A video upload up to this much over the limit is read (and dropped) to its end before the 413, so a client
that sends the whole body before it reads the answer gets it."""


def _too_large(n: int, limit: int, option: str, over: bool = False) -> ApiError:
    size = f"over {megabytes(n)}" if over else megabytes(n)
    return ApiError(413, "payload_too_large", f"the upload is {size}; the limit is {megabytes(limit)} ({option})")


async def _chunks(request: Request, idle_s: float) -> AsyncIterator[bytes]:
    """The body's chunks; 408 ``upload_timeout`` when none arrives for ``idle_s`` seconds (a stalled client)."""
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), idle_s)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise ApiError(408, "upload_timeout", f"the upload stalled: no data for {idle_s:g} s (--timeout-s)"
                           ) from None
        yield chunk


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_image(request: Request, limit: int, idle_s: float) -> bytes:
    """The image bytes of ``request``: the multipart field ``image`` or the raw body.

    Raises:
        ApiError: 413 past ``limit`` bytes (``--max-upload-mb``), 400 for a broken form or one without ``image``
            or a client gone mid-upload, 408 when the client sends nothing for ``idle_s`` seconds.
    """
    drain = DRAIN_FACTOR * limit  # read (and drop) up to this much of an oversized upload: the client sees the 413
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > drain:
        raise _too_large(int(declared), limit, "--max-upload-mb")
    chunks, n = [], 0
    try:
        async for chunk in _chunks(request, idle_s):
            n += len(chunk)
            if n <= limit + MULTIPART_SLACK:
                chunks.append(chunk)
            elif n > drain:
                break
    except ClientDisconnect:  # nobody reads the answer; an ApiError keeps it out of the server's error log
        raise ApiError(400, "client_disconnected", "the client closed the connection before the upload ended"
                       ) from None
    if n > limit + MULTIPART_SLACK:
        raise _too_large(min(n, drain), limit, "--max-upload-mb", over=n > drain)
    body = b"".join(chunks)
    if not _is_multipart(request):
        return body

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except Exception as exc:  # noqa: BLE001 (python-multipart and Starlette raise several types)
        raise ApiError(400, "bad_multipart", f"cannot parse the multipart form: {exc}") from None
    try:
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "missing_image", "the multipart form has no file field 'image'")
        return await upload.read()
    finally:
        await form.close()


class _VideoFile:
    """The job's ``input.<ext>``, opened once the first :data:`SNIFF_BYTES` bytes tell the container. Past the
    limit the file is deleted and the rest of the upload is read without being kept (up to :data:`VIDEO_DRAIN`)."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self.size = 0
        self.head = b""
        self.path: Path | None = None
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            if self.size > self.limit + VIDEO_DRAIN:
                raise _too_large(self.size, self.limit, "--max-video-mb", over=True)
            return
        if self._file is None:
            self.head += data
            if len(self.head) < SNIFF_BYTES:
                return
            self._open()
            data, self.head = self.head, b""
        assert self._file is not None
        self._file.write(data)

    def _open(self) -> None:
        ext = sniff_video(self.head)
        if ext is None:
            raise ApiError(415, "unsupported_media_type",
                           f"the upload is {sniff_type(self.head)}, not a video this service reads (MP4, MOV, AVI, "
                           f"WebM or MKV; the type is read from the content, not the file name)")
        self.path = self.folder / f"input.{ext}"
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by finish/discard)

    def finish(self) -> Path:
        if self.size > self.limit:
            raise _too_large(self.size, self.limit, "--max-video-mb")
        if self.size == 0:
            raise ApiError(400, "empty_upload", "the upload is empty (0 bytes); send a video file")
        if self._file is None:  # shorter than SNIFF_BYTES: sniffed on what there is
            self._open()
            assert self._file is not None
            self._file.write(self.head)
        self._file.close()
        assert self.path is not None
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _VideoPart:
    """python-multipart callbacks that stream the part named ``video`` into a :class:`_VideoFile`."""

    def __init__(self, target: _VideoFile) -> None:
        self.target = target
        self.found = False
        self._header = b""
        self._value = b""
        self._in_video = False
        self.callbacks: dict[str, Any] = {
            "on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._val,
            "on_header_end": self._header_end, "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._in_video = False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _val(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            _, params = parse_options_header(self._value)
            if params.get(b"name") == b"video" and not self.found:
                self._in_video = self.found = True
        self._header = self._value = b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_video:
            self.target.write(data[start:end])

    def _end(self) -> None:
        self._in_video = False


async def receive_video(request: Request, folder: Path, limit: int, idle_s: float) -> Path:
    """Stream the request's video (multipart field ``video`` or the raw body) into ``folder/input.<ext>``.

    Returns:
        The file's path.

    Raises:
        ApiError: 413 past ``limit`` bytes (``--max-video-mb``), 415 when the content is not a video container,
            400 for an empty upload, a broken form or one without ``video``, 408 when the client sends nothing for
            ``idle_s`` seconds.
        ClientDisconnect: the client went away mid-upload.
        In every case the partial file is deleted first.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK + VIDEO_DRAIN:
        raise _too_large(int(declared), limit, "--max-video-mb")
    target = _VideoFile(folder, limit)
    try:
        if _is_multipart(request):
            _, params = parse_options_header(request.headers["content-type"])
            boundary = params.get(b"boundary")
            if not boundary:
                raise ApiError(400, "bad_multipart", "the multipart Content-Type has no boundary")
            part = _VideoPart(target)
            parser = MultipartParser(boundary, part.callbacks)
            async for chunk in _chunks(request, idle_s):
                try:
                    parser.write(chunk)
                except ApiError:
                    raise
                except Exception as exc:  # noqa: BLE001 (python-multipart's parse errors)
                    raise ApiError(400, "bad_multipart", f"cannot parse the multipart form: {exc}") from None
            parser.finalize()
            if not part.found:
                raise ApiError(400, "missing_video", "the multipart form has no file field 'video'")
        else:
            async for chunk in _chunks(request, idle_s):
                target.write(chunk)
        return target.finish()
    except BaseException:  # refused, client gone (ClientDisconnect or the task cancelled), disk full: nothing stays
        target.discard()
        raise
