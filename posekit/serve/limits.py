"""Checks on an upload before anything decodes it: size, type by content, pixel count from the header, API key.

Every refusal is an :class:`ApiError` (HTTP status, a stable machine ``code`` and a message a person understands),
which the app turns into ``{"error": {"code": ..., "message": ...}}``.

* :func:`sniff_type`: the type from the first bytes (magic numbers), never from a file name or a client's
  ``Content-Type``: ``"jpeg"``, ``"png"``, ``"webp"`` (accepted) or a description of what else it is.
* :func:`header_size`: ``(width, height)`` read from the header alone (PNG ``IHDR``, JPEG ``SOFn``, WebP ``VP8``,
  ``VP8L``, ``VP8X``), so a decompression bomb (a small file declaring a huge image) is refused before a pixel is
  decoded.
* :func:`check_upload`: the three checks in order, 400 / 413 / 415.
* :func:`sniff_video`: the container of a video upload (MP4/MOV, AVI, WebM/MKV) from its first bytes.
* :func:`check_api_key`: the ``X-API-Key`` or ``Authorization: Bearer`` header against the server's key (401).
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Mapping

__all__ = ["ACCEPTED_TYPES", "ApiError", "check_api_key", "check_upload", "header_size", "megabytes", "sniff_type",
           "sniff_video"]

ACCEPTED_TYPES = ("jpeg", "png", "webp")
"""The image types the service decodes (names as :func:`sniff_type` returns them)."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): all but DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}


class ApiError(Exception):
    """A refusal: HTTP ``status``, machine ``code`` (e.g. ``"payload_too_large"``), human ``message``, extra
    response ``headers`` (e.g. ``Retry-After``). (A plain exception class: frameworks set ``__traceback__``.)"""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, code, message)
        self.status, self.code, self.message = status, code, message
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict:
        """The JSON body of the error response."""
        return {"error": {"code": self.code, "message": self.message}}


def megabytes(n: float) -> str:
    """``n`` bytes as ``"12.3 MB"`` (MB = 2**20 bytes, trailing ``.0`` dropped)."""
    text = f"{n / 2**20:.1f}"
    return f"{text.removesuffix('.0')} MB"


def sniff_type(data: bytes) -> str:
    """The type of ``data`` from its first bytes: ``"jpeg"``, ``"png"``, ``"webp"``, or a short description of
    something else (``"gif"``, ``"bmp"``, ``"tiff"``, ``"pdf"``, ``"zip"``, ``"text"``, ``"empty"``,
    ``"unknown binary data"``)."""
    if not data:
        return "empty"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, name in ((b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"BM", "bmp"), (b"II*\x00", "tiff"),
                        (b"MM\x00*", "tiff"), (b"%PDF", "pdf"), (b"PK\x03\x04", "zip"), (b"\x1f\x8b", "gzip")):
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        return "heif/mp4 (ISO media)"
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:  # a multi-byte character cut at byte 512 still counts as text
        text = head[:-3].decode("utf-8", errors="strict") if _decodes(head[:-3]) else None
    if text is not None and all(c.isprintable() or c in "\r\n\t\f" for c in text):
        return "text"
    return "unknown binary data"


def sniff_video(head: bytes) -> str | None:
    """The container of a video from its first bytes (64 are enough) as a file extension: ``"mp4"`` / ``"mov"``
    (ISO media, QuickTime brand), ``"avi"`` (RIFF AVI), ``"webm"`` / ``"mkv"`` (Matroska/EBML); ``None`` for
    anything else."""
    if head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    return None


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def header_size(data: bytes, kind: str) -> tuple[int, int]:
    """``(width, height)`` in pixels from the header of a ``kind`` (``"jpeg"``, ``"png"``, ``"webp"``) file.

    Raises:
        ValueError: the header is cut short or malformed (the message says where).
    """
    if kind == "png":
        # signature (8) + IHDR chunk: length (4) "IHDR" (4) width (4, big-endian) height (4)
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ValueError("the PNG file ends before its IHDR header")
        return struct.unpack(">II", data[16:24])
    if kind == "jpeg":
        return _jpeg_size(data)
    if kind == "webp":
        return _webp_size(data)
    raise ValueError(f"no header reader for {kind!r}")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise ValueError(f"the JPEG file is malformed at byte {i} (expected a marker)")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:
            raise ValueError("the JPEG file ends (EOI) before a frame header (SOF)")
        if i + 2 > n:
            break
        (length,) = struct.unpack(">H", data[i:i + 2])
        if marker in _JPEG_SOF:
            if i + 7 > n:
                break
            height, width = struct.unpack(">HH", data[i + 3:i + 7])
            return width, height
        if length < 2:
            raise ValueError(f"the JPEG file is malformed at byte {i} (segment length {length})")
        i += length
    raise ValueError("the JPEG file ends before its frame header (SOF)")


def _webp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise ValueError("the WebP file ends before its image header")
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 ":  # lossy: frame tag (3), start code 9d 01 2a, 14-bit width and height
        if body[3:6] != b"\x9d\x01\x2a":
            raise ValueError("the WebP (VP8) frame has no start code")
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14 bits width-1 and 14 bits height-1
        if body[0] != 0x2F:
            raise ValueError("the WebP (VP8L) header has no signature")
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: flags (4), 24-bit canvas width-1 and height-1
        w = int.from_bytes(body[4:7], "little") + 1
        h = int.from_bytes(body[7:10], "little") + 1
        return w, h
    raise ValueError(f"the WebP file has an unknown first chunk {chunk!r}")


def check_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[str, tuple[int, int]]:
    """Check an upload before decoding; returns ``(type, (width, height))``.

    Raises:
        ApiError: 400 ``empty_upload`` (zero bytes) or ``bad_image`` (header cut short or malformed), 413
            ``payload_too_large`` (over ``max_bytes``) or ``too_many_pixels`` (over ``max_pixels``), 415
            ``unsupported_media_type`` (not JPEG/PNG/WebP; the message names what it is).
    """
    if not data:
        raise ApiError(400, "empty_upload", "the upload is empty (0 bytes); send a JPEG, PNG or WebP image")
    if len(data) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the upload is {megabytes(len(data))}; "
                                                 f"the limit is {megabytes(max_bytes)} (--max-upload-mb)")
    kind = sniff_type(data)
    if kind not in ACCEPTED_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"the upload is {kind}, not an image this service reads (JPEG, PNG or WebP; the type is "
                       f"read from the content, not the file name)")
    try:
        width, height = header_size(data, kind)
    except (ValueError, struct.error, IndexError) as exc:
        raise ApiError(400, "bad_image", f"cannot read the {kind.upper()} image: {exc}") from None
    if width <= 0 or height <= 0:
        raise ApiError(400, "bad_image", f"the {kind.upper()} header declares an empty image ({width} x {height})")
    if width * height > max_pixels:
        raise ApiError(413, "too_many_pixels",
                       f"the image is {width} x {height} = {width * height:,} pixels; the limit is "
                       f"{max_pixels:,} (--max-pixels)")
    return kind, (width, height)


def check_api_key(headers: Mapping[str, str], api_key: str | None) -> None:
    """Refuse (401 ``unauthorized``) a request without the server's key in ``X-API-Key`` or ``Authorization:
    Bearer KEY`` (``headers`` lower-case keys or case-insensitive mapping); nothing to check without a key. The
    comparison takes constant time."""
    if not api_key:
        return
    given = headers.get("x-api-key")
    if given is None:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    if given is None or not hmac.compare_digest(given.encode(), api_key.encode()):
        raise ApiError(401, "unauthorized", "this server needs an API key: send it in the X-API-Key header or as "
                                            "Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"})
