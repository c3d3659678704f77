"""The real service: uvicorn on 127.0.0.1 (a free port, in a background thread) serving the real BlazePose; real HTTP
requests with the standard library (``urllib``), no mocks.

Two servers: ``server`` (no key, a 1 MB upload limit) and ``guarded`` (an API key, one inference slot and no queue,
each inference held 1.5 s by the test-only ``delay_s`` so a second request finds the slot taken).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")
from PIL import Image

from posekit import skeletons
from posekit.serve import ServeConfig
from tests.conftest import shared_path
from tests.serve.helpers import IMAGE, Server, http, need_blazepose, post_image
from tests.serve.test_limits import bomb_png

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def image_bytes() -> bytes:
    return shared_path(*IMAGE).read_bytes()


@pytest.fixture(scope="module")
def server(image_bytes):
    need_blazepose()
    with Server(ServeConfig(model="blazepose_full", max_upload_bytes=2**20)) as s:
        yield s


@pytest.fixture(scope="module")
def guarded(image_bytes):
    need_blazepose()
    with Server(ServeConfig(model="blazepose_full", api_key=KEY, max_queue=0, concurrency=1, delay_s=1.5)) as s:
        yield s


@pytest.fixture(scope="module")
def expected():
    """The poses of the in-process estimator on the same decoded image."""
    from posekit.eval import build_estimator
    from posekit.io.image import load_image

    return build_estimator("blazepose_full")[0].predict_rgb(load_image(shared_path(*IMAGE)))


def _assert_poses_equal(got: list[dict], want) -> None:
    assert len(got) == len(want) >= 1
    for item, kpts, scores, box in zip(got, want.keypoints, want.scores, want.boxes):
        missing = np.isnan(kpts).any(axis=1)
        assert [k is None for k in item["keypoints"]] == missing.tolist()
        values = np.array([k for k in item["keypoints"] if k is not None], np.float64)
        np.testing.assert_allclose(values, kpts[~missing], atol=1e-4)
        np.testing.assert_allclose(item["scores"], scores, atol=1e-6)
        np.testing.assert_allclose(item["box"], box, atol=1e-4)


def test_poses_json_equals_in_process_estimator(server, image_bytes, expected):
    status, headers, body = post_image(server.url + "/v1/poses", image_bytes)
    assert status == 200 and headers["content-type"] == "application/json"
    out = json.loads(body)
    assert set(out) == {"model", "detector", "posekit_version", "image", "poses", "skeleton", "coco", "timing_ms"}
    assert out["model"] == "blazepose_full"
    assert out["image"] == {"width": 480, "height": 640}
    assert out["skeleton"]["name"] == "blazepose33"
    assert out["skeleton"]["keypoints"] == list(skeletons.blazepose33.keypoints)
    assert out["skeleton"]["links"] == [list(p) for p in skeletons.blazepose33.links]
    assert out["skeleton"]["link_colors"] == [list(c) for c in skeletons.blazepose33.link_colors]
    assert out["skeleton"]["link_scales"] == [1.0] * len(skeletons.blazepose33.links)  # no parts: full size
    _assert_poses_equal(out["poses"], expected)
    for item, k3d in zip(out["poses"], expected.keypoints_3d):
        assert set(item) == {"keypoints", "scores", "box", "box_score", "score", "keypoints_3d"}
        np.testing.assert_allclose(np.array(item["keypoints_3d"], np.float64), k3d, atol=1e-5)
    assert out["coco"] == json.loads(json.dumps(expected.to_coco(0)))
    t = out["timing_ms"]
    assert 0 < t["decode"] < t["total"] and 0 < t["inference"] < t["total"]


def test_raw_body_skeleton_conversion_and_min_score(server, image_bytes, expected):
    status, _, body = post_image(server.url + "/v1/poses?skeleton=coco17", image_bytes, raw=True)
    assert status == 200
    out = json.loads(body)
    assert out["skeleton"]["name"] == "coco17" and len(out["skeleton"]["keypoints"]) == 17
    _assert_poses_equal(out["poses"], expected.to_skeleton(skeletons.coco17))
    assert all(len(c["keypoints"]) == 51 for c in out["coco"])
    best = max(p["score"] for p in out["poses"])
    query = f"/v1/poses?skeleton=coco17&min_score={best - 1e-6:.7f}"
    status, _, body = post_image(server.url + query, image_bytes, raw=True)
    kept = json.loads(body)["poses"]
    assert status == 200 and len(kept) == 1 and abs(kept[0]["score"] - best) < 1e-6
    status, _, body = post_image(server.url + "/v1/poses?skeleton=nope", image_bytes, raw=True)
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_parameter"
    status, _, body = post_image(server.url + "/v1/poses?min_score=2", image_bytes, raw=True)
    assert status == 400 and "min_score" in json.loads(body)["error"]["message"]


def test_render_returns_the_drawn_image(server, image_bytes):
    status, headers, body = post_image(server.url + "/v1/poses:render", image_bytes)
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith(b"\x89PNG\r\n\x1a\n")
    drawn = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB"))
    assert drawn.shape == original.shape == (640, 480, 3)
    changed = np.abs(drawn.astype(int) - original.astype(int)).max(axis=2) > 40
    assert 500 < changed.sum() < 0.2 * changed.size  # skeletons drawn, the photo still there
    status, headers, body = post_image(server.url + "/v1/poses:render?format=jpeg", image_bytes, raw=True)
    assert status == 200 and headers["content-type"] == "image/jpeg" and body.startswith(b"\xff\xd8\xff")
    assert Image.open(io.BytesIO(body)).size == (480, 640)


def test_service_endpoints(server):
    assert http(server.url + "/healthz")[:1] == (200,) and json.loads(http(server.url + "/healthz")[2]) == {
        "status": "ok"}
    assert json.loads(http(server.url + "/readyz")[2]) == {"status": "ready", "model": "blazepose_full"}
    status, _, body = http(server.url + "/v1/models")
    models = json.loads(body)
    assert status == 200 and models["serving"] == "blazepose_full" and models["loaded"] is True
    names = {m["name"]: m for m in models["models"]}
    assert {"blazepose_full", "movenet_thunder"} <= set(names) and "mediapipe_hand_full" not in names
    assert names["blazepose_full"]["outputs_3d"] is True and names["blazepose_full"]["num_keypoints"] == 33
    schema = json.loads(http(server.url + "/openapi.json")[2])
    assert {"/v1/poses", "/v1/poses:render", "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/v1/poses"]["post"]["requestBody"]["content"]
    status, _, body = http(server.url + "/nowhere")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in the metrics"
    return float(match.group(1))


@pytest.mark.parametrize("name, make, status, code, words", [
    ("too big", lambda img: img + bytes(2 * 2**20), 413, "payload_too_large", "the limit is 1 MB"),
    ("text named .jpg", lambda img: b"just some text, not a JPEG\n" * 20, 415, "unsupported_media_type", "text"),
    ("zero bytes", lambda img: b"", 400, "empty_upload", "empty"),
    ("truncated JPEG", lambda img: img[: len(img) // 2], 400, "bad_image", "truncated"),
    ("JPEG cut in its header", lambda img: img[:120], 400, "bad_image", "SOF"),
    ("decompression bomb", lambda img: bomb_png(100_000, 100_000), 413, "too_many_pixels", "100000 x 100000"),
])
def test_bad_uploads_are_refused_and_the_server_keeps_serving(server, image_bytes, name, make, status, code, words):
    t0 = time.perf_counter()
    got, _, body = post_image(server.url + "/v1/poses", make(image_bytes))
    error = json.loads(body)["error"]
    assert (got, error["code"]) == (status, code), error
    assert words in error["message"]
    if code == "too_many_pixels":
        assert time.perf_counter() - t0 < 2.0  # refused from the header: nothing decoded
    assert http(server.url + "/healthz")[0] == 200
    metrics = http(server.url + "/metrics")[2].decode()
    assert _metric(metrics, f'posekit_errors_total{{code="{code}"}}') >= 1
    assert _metric(metrics, "posekit_queue_depth") == 0


def test_metrics_count_requests(server, image_bytes):
    before = http(server.url + "/metrics")[2].decode()
    name = 'posekit_requests_total{endpoint="/v1/poses",method="POST",status="200"}'
    n0 = _metric(before, name) if name in before else 0
    assert post_image(server.url + "/v1/poses", image_bytes)[0] == 200  # also: serving after the faults above
    status, headers, body = http(server.url + "/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert _metric(text, name) == n0 + 1
    count = _metric(text, 'posekit_request_duration_seconds_count{endpoint="/v1/poses"}')
    assert _metric(text, 'posekit_request_duration_seconds_bucket{endpoint="/v1/poses",le="+Inf"}') == count
    assert _metric(text, "posekit_model_loaded") == 1 and _metric(text, "posekit_inference_running") == 0


def test_api_key(guarded):
    status, headers, body = http(guarded.url + "/v1/models")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    assert headers["www-authenticate"] == "Bearer"
    assert http(guarded.url + "/v1/models", headers={"X-API-Key": "wrong"})[0] == 401
    assert http(guarded.url + "/v1/models", headers={"X-API-Key": KEY})[0] == 200
    assert http(guarded.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})[0] == 200
    assert http(guarded.url + "/healthz")[0] == 200 and http(guarded.url + "/readyz")[0] == 200
    assert http(guarded.url + "/metrics")[0] == 401


def test_full_queue_answers_503_with_retry_after(guarded, image_bytes):
    key = {"X-API-Key": KEY}
    first: list = []
    slow = threading.Thread(target=lambda: first.append(post_image(guarded.url + "/v1/poses", image_bytes,
                                                                   headers=key)))
    slow.start()
    deadline = time.monotonic() + 30
    while _metric(http(guarded.url + "/metrics", headers=key)[2].decode(), "posekit_inference_running") < 1:
        assert time.monotonic() < deadline, "the first request never started"
        time.sleep(0.05)
    status, headers, body = post_image(guarded.url + "/v1/poses", image_bytes, headers=key)
    assert status == 503 and headers["retry-after"] == "1"
    assert json.loads(body)["error"]["code"] == "overloaded"
    slow.join(timeout=60)
    assert first and first[0][0] == 200 and len(json.loads(first[0][2])["poses"]) >= 1
    assert post_image(guarded.url + "/v1/poses", image_bytes, headers=key)[0] == 200  # the slot is free again


def test_per_request_model_and_detector(server, image_bytes):
    from posekit.eval import build_estimator
    from posekit.io.image import load_image

    status, _, body = post_image(server.url + "/v1/poses?model=blazepose_lite", image_bytes)
    out = json.loads(body)
    assert status == 200 and out["model"] == "blazepose_lite" and out["detector"] is None
    _assert_poses_equal(out["poses"], build_estimator("blazepose_lite")[0].predict_rgb(
        load_image(shared_path(*IMAGE))))
    models = json.loads(http(server.url + "/v1/models")[2])
    loaded = {m["name"] for m in models["models"] if m["loaded"]}
    assert loaded == {"blazepose_full", "blazepose_lite"} and models["models"][0]["name"] == "blazepose_full"
    assert "mediapipe" in models["detectors"] and "yolox_s" not in models["detectors"]  # no download on request
    status, _, body = post_image(server.url + "/v1/poses?detector=mediapipe", image_bytes)
    assert status == 200 and json.loads(body)["detector"] == "mediapipe" and json.loads(body)["poses"]
    for query, words in (("model=no_such_model", "not served here"), ("detector=yolox_s", "not available here"),
                         ("model=mediapipe_hand_full", "not served here")):
        status, _, body = post_image(server.url + "/v1/poses?" + query, image_bytes)
        error = json.loads(body)["error"]
        assert (status, error["code"]) == (400, "bad_parameter") and words in error["message"], query


def test_skeleton_payload_carries_the_part_styles_of_posekit_draw():
    """The page draws a whole-body skeleton as posekit.draw does: face lines a third, hand lines 0.6 of the body's."""
    from posekit.serve.inference import skeleton_payload

    sk = skeletons.coco_wholebody133
    out = skeleton_payload(sk)
    face, hand = set(sk.part_indices("face")), set(sk.part_indices("left_hand"))
    scale = dict(zip(map(tuple, out["links"]), out["link_scales"]))
    assert {scale[(a, b)] for a, b in sk.links if a in face and b in face} == {1 / 3}
    assert {scale[(a, b)] for a, b in sk.links if a in hand and b in hand} == {0.6}
    assert scale[tuple(sk.links[0])] == 1.0 and len(out["keypoint_scales"]) == 133
    assert out["keypoint_scales"][23] == 0.5 and out["keypoint_scales"][0] == 1.0
