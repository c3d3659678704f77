"""Detectors of official checkpoints (RTMDet, YOLOX): registry rows, the user's loading path (``weights=PATH``) on the
real weights of ``../shared/weights`` saved in the official containers, the official layouts (manifests made by
MMDet / Megvii YOLOX themselves, ``tests/fixtures/official_layouts``), bad checkpoints named in one error, and a
whole-image pipeline behind RTMDet-nano person that finds the people of the COCO images."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit.detect import RTMDetDetector, YOLOXDetector, create_detector
from posekit.io.image import load_image
from posekit.metrics.recall import PersonRecall, person_recall
from posekit.models.convert import load_official
from posekit.models.detector_zoo import CHECKPOINTS, detector_checkpoint, load_detector_weights
from posekit.models.registry import get_entry
from posekit.models.weights import ChecksumError, WeightsError
from posekit.skeletons import coco17
from tests.conftest import shared_path
from tests.models.onnx_weights import save_official

LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "official_layouts"
IMAGE = ("data", "coco", "openpose_examples", "COCO_val2014_000000000192.jpg")
REAL = {"rtmdet_nano_person": ("rtmdet_nano_320_person_end2end.onnx", 320, "state_dict"),
        "yolox_nano": ("yolox_nano.onnx", 416, "model")}


@functools.cache
def _real_checkpoint(name: str, folder: str) -> Path:
    """The real weights of ``name`` as an official checkpoint file (made once per session)."""
    pytest.importorskip("onnx")
    onnx_file, size, container = REAL[name]
    network = posekit.create_model(name)
    return save_official(network, Path(folder) / f"{name}.pth", shared_path("weights", onnx_file), size=size,
                         container=container)


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict[str, Path]:
    folder = str(tmp_path_factory.mktemp("official"))
    return {name: _real_checkpoint(name, folder) for name in REAL}


def test_registry_rows_are_complete() -> None:
    names = posekit.list_models(task="detect")
    expected = ["rtmdet_nano_person", "rtmdet_m_person", "rtmdet_nano_hand",
                *(f"rtmdet_{v}" for v in ("tiny", "s", "m", "l")),
                *(f"yolox_{v}" for v in ("nano", "tiny", "s", "m", "l", "x"))]
    assert set(expected) <= set(names) and [r.name for r in CHECKPOINTS] == expected
    for row in CHECKPOINTS:
        entry = get_entry(row.name)
        assert entry.task == "detect" and entry.skeleton is None and entry.weights.url == row.url
        assert row.url.startswith("https://") and entry.weights.filename.endswith(".pth")
        if row.family == "rtmdet":  # OpenMMLab names carry the hash prefix
            assert row.url.endswith(f"-{row.sha256}.pth") and len(row.sha256) == 8
        else:
            assert len(row.sha256) == 64
        (value,) = row.metrics.values()
        assert f"{100 * value:.1f}" in entry.description
    assert detector_checkpoint("rtmdet_m_person").num_classes == 1 and detector_checkpoint("yolox_s").input_size == 640
    with pytest.raises(KeyError, match="no official detector checkpoint"):
        detector_checkpoint("yolox_huge")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_weights_load_as_official_checkpoints(name: str, real: dict[str, Path]) -> None:
    """``create_detector(name, weights=PATH)`` loads the official container strictly and finds the people."""
    detector = create_detector(name, weights=real[name])
    assert isinstance(detector, RTMDetDetector if name.startswith("rtmdet") else YOLOXDetector)
    assert detector.size == detector_checkpoint(name).input_size
    dets = detector(load_image(shared_path(*IMAGE)))
    assert len(dets) == 4 and (dets.labels == 0).all() and (dets.scores > 0.7).all()  # the 4 people of the image
    network = posekit.create_model(name, weights=real[name])
    assert not network.training
    with pytest.raises(ChecksumError, match="sha256 mismatch"):  # not the official file's bytes
        posekit.create_model(name, weights=real[name], check_sha256=True)


def test_onnxruntime_backend_runs_the_loaded_weights(real: dict[str, Path]) -> None:
    pytest.importorskip("onnxruntime")
    image = load_image(shared_path(*IMAGE))
    got = create_detector("rtmdet_nano_person", weights=real["rtmdet_nano_person"], backend="onnxruntime")(image)
    want = create_detector("rtmdet_nano_person", weights=real["rtmdet_nano_person"])(image)
    np.testing.assert_allclose(got.boxes, want.boxes, atol=0.05)


def _save(tmp_path: Path, name: str, obj: object) -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_bad_checkpoints_are_named(tmp_path: Path, real: dict[str, Path]) -> None:
    rtm = detector_checkpoint("rtmdet_nano_person")
    model = posekit.create_model("rtmdet_nano_person")
    with pytest.raises(ValueError, match="is a YOLOX checkpoint .*rtmdet_nano_person needs an RTMDet checkpoint"):
        load_detector_weights(model, real["yolox_nano"], rtm)
    with pytest.raises(ValueError, match="is an RTMDet checkpoint .*yolox_nano needs a YOLOX checkpoint"):
        create_detector("yolox_nano", weights=real["rtmdet_nano_person"])
    coco80 = posekit.create_model("rtmdet_tiny").state_dict()  # a COCO-80 checkpoint given to a person-only model
    with pytest.raises(ValueError, match="holds a 80-class rtmdet detector but rtmdet_m_person has 1 class"):
        create_detector("rtmdet_m_person", weights=_save(tmp_path, "tiny.pth", {"state_dict": coco80}))
    with pytest.raises(ValueError, match="holds a 1-class rtmdet detector but rtmdet_tiny has 80 classes"):
        create_detector("rtmdet_tiny", weights=real["rtmdet_nano_person"])
    with pytest.raises(ValueError, match="looks like a rtmdet_tiny checkpoint .*not rtmdet_s's"):
        create_detector("rtmdet_s", weights=tmp_path / "tiny.pth")
    state = model.state_dict()
    ema = {"ema_state_dict": {"steps": torch.tensor(1), **{f"module.{k}": v for k, v in state.items()}}}
    with pytest.raises(WeightsError, match="EMA-only checkpoint: it holds only an 'ema_state_dict'"):
        load_detector_weights(model, _save(tmp_path, "ema.pth", ema), rtm)
    with pytest.raises(WeightsError, match="EMA-only checkpoint: it holds the state dict of an EMA wrapper"):
        load_detector_weights(model, _save(tmp_path, "ema2.pth", ema["ema_state_dict"]), rtm)
    missing = {k: v for k, v in state.items() if k != "bbox_head.rtm_reg.2.bias"}
    with pytest.raises(ValueError, match=r"missing keys \(1\): bbox_head.rtm_reg.2.bias") as err:
        load_detector_weights(model, _save(tmp_path, "missing.pth", {"state_dict": missing}), rtm)
    assert "missing.pth" in str(err.value)
    extra = {**state, "bbox_head.extra.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): bbox_head.extra.weight"):
        load_detector_weights(model, _save(tmp_path, "extra.pth", {"state_dict": extra}), rtm)
    pose = posekit.create_model("rtmpose_t_coco_256x192").state_dict()
    with pytest.raises(ValueError, match="is an MMPose pose-model checkpoint"):
        load_detector_weights(model, _save(tmp_path, "pose.pth", {"state_dict": pose}), rtm)


def _layouts() -> list[Path]:
    return sorted(LAYOUTS.glob("*.json")) if LAYOUTS.is_dir() else []


@pytest.mark.parametrize("name", [r.name for r in CHECKPOINTS])
def test_official_layouts_load_strictly(name: str) -> None:
    """The key/shape manifest MMDet (RTMDet) or Megvii's YOLOX code made of each official model loads strictly."""
    path = LAYOUTS / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (made by tests/fixtures/official_layouts/make_layouts.py)")
    layout = json.loads(path.read_text())
    row = detector_checkpoint(name)
    assert layout["official_weights_url"] == row.url and layout["checkpoint_container"] == row.container
    model = posekit.create_model(name)
    state = {k: torch.zeros(shape, dtype=torch.int64 if k in layout.get("non_float32", {}) else torch.float32)
             for k, shape in layout["state_dict"].items()}
    load_official(model, state, source="mmpose")  # strict: names every missing / unexpected / mis-shaped key
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]


def test_topdown_pipeline_behind_rtmdet_nano_finds_the_people(real: dict[str, Path]) -> None:
    """MoveNet Thunder on RTMDet-nano person's boxes (real weights) on the 18 OpenPose COCO images: the people with
    >= 5 labelled keypoints found at OKS > 0.5 (measured 39 of 44: RTMDet-nano's boxes hold 40 of them at IoU >= 0.5;
    NanoDet's boxes give 42)."""
    from tests.models.tfjs._files import model_json

    model_json("movenet-thunder")  # skips without the npm package
    est = posekit.PoseEstimator.from_pretrained("movenet_thunder", detector="rtmdet_nano_person",
                                                detector_weights=str(real["rtmdet_nano_person"]))
    data = json.loads(shared_path("data", "coco", "openpose_examples_keypoints.json").read_text())
    total = PersonRecall()
    for im in data["images"]:
        poses = est(shared_path("data", "coco", "openpose_examples", im["file_name"]))
        assert poses.skeleton == coco17 and np.isfinite(poses.boxes).all()
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        total += person_recall(poses.keypoints, anns, coco17.sigmas)
    assert total.people == 44
    assert total.found >= 39, total
