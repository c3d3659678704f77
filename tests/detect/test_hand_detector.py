"""The RTMDet-nano hand detector (``rtmdet_nano_hand``, MMPose's default hand detector): its registry row, the layout
MMDet builds from its official config (``tests/fixtures/official_layouts/rtmdet_nano_hand.json``) loading strictly,
and checkpoints of other detectors refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import posekit
from posekit.detect import RTMDetDetector, create_detector
from posekit.models.convert import load_official
from posekit.models.detector_zoo import detector_checkpoint
from posekit.models.registry import get_entry

LAYOUT = Path(__file__).resolve().parents[1] / "fixtures" / "official_layouts" / "rtmdet_nano_hand.json"


def test_row() -> None:
    row = detector_checkpoint("rtmdet_nano_hand")
    assert (row.family, row.variant, row.num_classes, row.class_names, row.input_size) == (
        "rtmdet", "nano", 1, ("hand",), 320)
    assert row.url.endswith("/mmpose/v1/projects/rtmposev1/rtmdet_nano_8xb32-300e_hand-267f9c8f.pth")
    assert row.sha256 == "267f9c8f" and row.container == "state_dict"
    assert row.config == "rtmdet_nano_320-8xb32_hand" and row.metrics == {"hand_ap": 0.760}
    entry = get_entry("rtmdet_nano_hand")
    assert entry.task == "detect" and entry.weights.url == row.url
    assert entry.description == "RTMDet-nano (hands), 320x320, hand AP 76.0 (MMDet/MMPose)"
    assert "rtmdet_nano_hand" in posekit.list_models(task="detect")


def test_official_layout_loads_strictly() -> None:
    """The manifest MMDet 3.2.0 built from MMPose's ``demo/mmdetection_cfg/rtmdet_nano_320-8xb32_hand.py``."""
    layout = json.loads(LAYOUT.read_text())
    row = detector_checkpoint("rtmdet_nano_hand")
    assert layout["config"] == f"demo/mmdetection_cfg/{row.config}.py" and layout["official_weights_url"] == row.url
    assert layout["state_dict"]["bbox_head.rtm_cls.0.weight"] == [1, 64, 1, 1]  # one class: hand
    model = posekit.create_model("rtmdet_nano_hand")
    state = {k: torch.zeros(shape, dtype=torch.int64 if k in layout["non_float32"] else torch.float32)
             for k, shape in layout["state_dict"].items()}
    load_official(model, state, source="mmpose")  # strict: names every missing / unexpected / mis-shaped key
    assert list(model.state_dict()) == list(layout["state_dict"])
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"] == 994_423


def test_checkpoints_load_and_others_are_refused(tmp_path: Path) -> None:
    state = posekit.create_model("rtmdet_nano_hand").state_dict()
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "hand.pth")
    detector = create_detector("rtmdet_nano_hand", weights=tmp_path / "hand.pth")
    assert isinstance(detector, RTMDetDetector) and detector.size == 320 and detector.classes == (0,)
    torch.save({"state_dict": posekit.create_model("rtmdet_tiny").state_dict()}, tmp_path / "tiny.pth")
    with pytest.raises(ValueError, match="holds a 80-class rtmdet detector but rtmdet_nano_hand has 1 class"):
        create_detector("rtmdet_nano_hand", weights=tmp_path / "tiny.pth")
    torch.save({"state_dict": posekit.create_model("rtmdet_m_person").state_dict()}, tmp_path / "m.pth")
    with pytest.raises(ValueError, match="looks like a rtmdet_m_person checkpoint .*not rtmdet_nano_hand's"):
        create_detector("rtmdet_nano_hand", weights=tmp_path / "m.pth")
