"""The one registry of public model names."""

from __future__ import annotations

import pytest

import posekit
from posekit.models.registry import get_entry


def test_list_models_contains_offline_defaults():
    names = posekit.list_models()
    for name in ("blazepose_full", "mediapipe_hand_full", "mediapipe_hand_lite", "mediapipe_face_mesh"):
        assert name in names
    assert posekit.list_models(task="hand") == [
        "mediapipe_hand_full", "mediapipe_hand_lite", "rtmpose_m_hand5_256x256", "rtmpose_m_wholebody_hand_256x256"]
    assert {"dwpose_l_wholebody_384x288", "dwpose_m_wholebody_256x192"} <= set(posekit.list_models(task="wholebody"))
    assert posekit.list_models(task="animal") == ["hrnet_w32_ap10k_256x256", "rtmpose_m_ap10k_256x256"]


def test_unknown_model_suggests_close_names():
    with pytest.raises(KeyError, match="did you mean blazepose_full"):
        get_entry("blazepose_ful")
    with pytest.raises(KeyError, match="unknown model"):
        posekit.create_model("no_such_model")


def test_every_entry_is_consistent():
    for name in posekit.list_models():
        e = get_entry(name)
        assert e.name == name and e.description
        assert (e.skeleton is None) == (e.task == "detect") and (e.skeleton is None or e.skeleton.num_keypoints > 0)
        assert callable(e.build_model)


def test_every_estimator_builder_resolves():
    """Each registered end-to-end builder is a plain reference to its pipeline's builder (no model is loaded)."""
    from posekit.pipelines.registry import estimator_entries

    for entry in estimator_entries():
        assert callable(entry.build), entry.name
