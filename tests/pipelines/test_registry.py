"""The estimator registry: one builder per public name, capabilities and predict-time defaults as data."""

from __future__ import annotations

import pytest

import posekit
from posekit.models.registry import get_entry
from posekit.pipelines.registry import (
    Capabilities, PredictDefaults, build_estimator, estimator_entries, estimator_entry,
)


def test_every_estimator_is_a_registered_model_and_top_down_models_take_weights():
    names = [e.name for e in estimator_entries()]
    assert len(names) == len(set(names))
    for entry in estimator_entries():
        model = get_entry(entry.name)  # also a network name
        assert entry.capabilities.takes_weights == hasattr(model, "weights")
        assert entry.capabilities.flip_test == entry.capabilities.takes_weights  # the top-down models
    lifters = [n for n in posekit.list_models(task="lift3d")]
    assert lifters and not set(lifters) & set(names)


def test_capabilities_and_defaults_are_data():
    blaze = estimator_entry("blazepose_full")
    assert blaze.capabilities == Capabilities(presence_gate=True, tiles=True, outputs_3d=True)
    assert blaze.predict_defaults == PredictDefaults(tiles=2, min_detection_score=0.3)
    hand = estimator_entry("mediapipe_hand_full")
    assert hand.capabilities.presence_gate and not hand.capabilities.tiles
    assert hand.predict_defaults == PredictDefaults()
    rtm = estimator_entry("rtmpose_t_coco_256x192")
    assert rtm.capabilities == Capabilities(flip_test=True, takes_weights=True)


def test_bad_names_and_options_are_named():
    with pytest.raises(KeyError, match="did you mean"):
        estimator_entry("blazepose_ful")
    with pytest.raises(ValueError, match="no end-to-end estimator"):
        estimator_entry(posekit.list_models(task="lift3d")[0])
    with pytest.raises(ValueError, match="takes its weights from the MediaPipe wheel"):
        build_estimator("blazepose_full", weights="x.pth")
    with pytest.raises(ValueError, match="backend"):
        build_estimator("blazepose_full", backend="tensorrt")


def test_pose_estimator_is_an_abstract_interface():
    with pytest.raises(TypeError, match="abstract"):
        posekit.PoseEstimator()
    assert issubclass(posekit.TopDownEstimator, posekit.PoseEstimator)
