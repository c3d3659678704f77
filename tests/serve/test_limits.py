"""Upload checks of :mod:`posekit.serve.limits` and the bounded pool, without a server: headers written by Pillow
(JPEG, PNG, WebP lossy / lossless / extended) and crafted ones (a decompression bomb, cut-short files)."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")
from posekit.serve.inference import BoundedPool
from posekit.serve.limits import (
    ApiError,
    check_api_key,
    check_upload,
    header_size,
    megabytes,
    sniff_type,
)
from posekit.serve.metrics import Metrics


def _encode(fmt: str, size: tuple[int, int], mode: str = "RGB", **options) -> bytes:
    w, h = size
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG whose IHDR declares ``width x height`` (8-bit grey) with a tiny IDAT: decoding would
    allocate ``width * height`` bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt, kind, mode, options", [
    ("JPEG", "jpeg", "RGB", {"quality": 80}),
    ("JPEG", "jpeg", "RGB", {"progressive": True}),
    ("PNG", "png", "RGB", {}),
    ("WEBP", "webp", "RGB", {"quality": 80}),  # VP8
    ("WEBP", "webp", "RGB", {"lossless": True}),  # VP8L
    ("WEBP", "webp", "RGBA", {"quality": 80, "exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"}),  # VP8X
])
def test_header_size_of_real_files(fmt, kind, mode, options):
    data = _encode(fmt, (37, 23), mode, **options)
    assert sniff_type(data) == kind
    assert header_size(data, kind) == (37, 23)
    assert check_upload(data, max_bytes=10**6, max_pixels=37 * 23) == (kind, (37, 23))


def test_webp_extended_header_is_read():
    data = _encode("WEBP", (37, 23), "RGBA", quality=80, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    assert data[12:16] == b"VP8X"  # the case the parametrised test above means to cover


def test_decompression_bomb_is_refused_from_the_header():
    data = bomb_png(100_000, 100_000)
    assert len(data) < 200
    t0 = time.perf_counter()
    with pytest.raises(ApiError) as info:
        check_upload(data, max_bytes=10**6, max_pixels=40_000_000)
    assert time.perf_counter() - t0 < 0.1
    assert (info.value.status, info.value.code) == (413, "too_many_pixels")
    assert "100000 x 100000" in info.value.message and "--max-pixels" in info.value.message


@pytest.mark.parametrize("data, status, code, words", [
    (b"", 400, "empty_upload", "0 bytes"),
    (b"hello, this is text\n" * 10, 415, "unsupported_media_type", "text"),
    (b"GIF89a" + b"\x00" * 50, 415, "unsupported_media_type", "gif"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 400, "bad_image", "IHDR"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", 400, "bad_image", "SOF"),
])
def test_refusals(data, status, code, words):
    with pytest.raises(ApiError) as info:
        check_upload(data, max_bytes=10**6, max_pixels=10**6)
    assert (info.value.status, info.value.code) == (status, code)
    assert words in info.value.message
    assert info.value.body() == {"error": {"code": code, "message": info.value.message}}


def test_size_limit_message():
    with pytest.raises(ApiError) as info:
        check_upload(b"\xff\xd8\xff" + bytes(12_897_484), max_bytes=10 * 2**20, max_pixels=10**6)
    assert info.value.status == 413
    assert info.value.message == "the upload is 12.3 MB; the limit is 10 MB (--max-upload-mb)"
    assert megabytes(2**20) == "1 MB"


def test_api_key_headers():
    check_api_key({}, None)
    check_api_key({"x-api-key": "k1"}, "k1")
    check_api_key({"authorization": "Bearer k1"}, "k1")
    for headers in ({}, {"x-api-key": "k2"}, {"authorization": "Basic k1"}, {"authorization": "Bearer k2"}):
        with pytest.raises(ApiError) as info:
            check_api_key(headers, "k1")
        assert info.value.status == 401 and info.value.headers["WWW-Authenticate"] == "Bearer"


def test_bounded_pool_refuses_beyond_the_bound_and_times_out():
    metrics = Metrics()

    async def scenario() -> list:
        pool = BoundedPool(concurrency=1, max_queue=1, timeout_s=0.5, retry_after_s=2, metrics=metrics)
        slow = asyncio.ensure_future(pool.run(time.sleep, 0.3))
        queued = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(ApiError) as info:  # 1 running + 1 waiting: the third is refused
            await pool.run(lambda: "third")
        assert info.value.status == 503 and info.value.headers["Retry-After"] == "2"
        results = [await slow, await queued]
        with pytest.raises(ApiError) as info:
            await pool.run(time.sleep, 1.0)
        assert info.value.status == 504
        results.append(await pool.run(lambda: "after"))  # the bound holds the still-running sleep: 1 of 2 slots
        pool.shutdown()
        return results

    assert asyncio.run(scenario()) == [None, "second", "after"]
    assert "posekit_queue_depth 0" in metrics.render()


def test_metrics_text():
    m = Metrics()
    m.observe("/v1/poses", "POST", 200, 0.03)
    m.observe("/v1/poses", "POST", 200, 0.2)
    m.error("payload_too_large")
    text = m.render()
    assert 'posekit_requests_total{endpoint="/v1/poses",method="POST",status="200"} 2' in text
    assert 'posekit_request_duration_seconds_bucket{endpoint="/v1/poses",le="0.05"} 1' in text
    assert 'posekit_request_duration_seconds_bucket{endpoint="/v1/poses",le="+Inf"} 2' in text
    assert 'posekit_request_duration_seconds_count{endpoint="/v1/poses"} 2' in text
    assert 'posekit_errors_total{code="payload_too_large"} 1' in text
    assert text.endswith("\n") and "# TYPE posekit_queue_depth gauge" in text
