"""The estimator registry: one builder per public name (its defaults are the model's, for every caller), capabilities
as data."""

from __future__ import annotations

import pytest

import posekit
from posekit.models.mmpose_zoo import TopdownEntry
from posekit.models.registry import get_entry
from posekit.pipelines.registry import (
    Capabilities, build_estimator, estimator_entries, estimator_entry, weights_refusal,
)


def test_every_estimator_is_a_registered_model_and_top_down_models_take_weights():
    names = [e.name for e in estimator_entries()]
    assert len(names) == len(set(names))
    for entry in estimator_entries():
        model = get_entry(entry.name)  # also a network name
        assert entry.capabilities.takes_weights == (model.weights is not None)
        top_down = isinstance(model, TopdownEntry)
        assert entry.capabilities.flip_test == top_down  # the top-down models take weights and flip
        assert top_down <= entry.capabilities.takes_weights and top_down <= entry.capabilities.detector
    one_stage = sorted(e.name for e in estimator_entries() if e.capabilities.takes_weights and not e.capabilities.boxes)
    assert one_stage == ["rtmo_l", "rtmo_m", "rtmo_s"]  # RTMO: official checkpoints, people found without boxes
    lifters = [n for n in posekit.list_models(task="lift3d")]
    assert lifters and not set(lifters) & set(names)


def test_capabilities_are_data():
    blaze = estimator_entry("blazepose_full")
    assert blaze.capabilities == Capabilities(presence_gate=True, tiles=True, outputs_3d=True, detector=True)
    hand = estimator_entry("mediapipe_hand_full")
    assert hand.capabilities.presence_gate and not hand.capabilities.tiles and not hand.capabilities.detector
    rtm = estimator_entry("rtmpose_t_coco_256x192")
    assert rtm.capabilities == Capabilities(flip_test=True, takes_weights=True, detector=True)
    assert estimator_entry("movenet_thunder").capabilities == Capabilities(detector=True)
    for one_stage in ("movenet_multipose", "posenet"):
        assert estimator_entry(one_stage).capabilities == Capabilities(boxes=False)


def test_detectors_are_chosen_by_registry_name():
    with pytest.raises(ValueError, match="posenet finds people itself"):
        build_estimator("posenet", detector="nanodet")
    with pytest.raises(ValueError, match="'movenet_lightning' is a body model, not a person detector; detectors: "
                                         "mediapipe, nanodet"):
        build_estimator("movenet_thunder", detector="movenet_lightning")
    with pytest.raises(KeyError, match="did you mean nanodet"):
        build_estimator("movenet_thunder", detector="nandet")



def test_a_detector_name_is_built_on_first_use_with_the_estimators_back_end(monkeypatch):
    from posekit.detect import LazyDetector
    from posekit.pipelines import registry

    made = []
    monkeypatch.setattr(registry, "create_detector", lambda name, **kw: made.append((name, kw)) or "detector")
    est = build_estimator("movenet_lightning", detector="mediapipe")
    assert isinstance(est.detector, LazyDetector) and made == []  # nothing built before it is needed
    assert est.detector.detector == "detector"
    assert made == [("mediapipe", {"device": "cpu", "backend": "torch"})]


def test_bad_names_and_options_are_named():
    with pytest.raises(KeyError, match="did you mean"):
        estimator_entry("blazepose_ful")
    with pytest.raises(ValueError, match="no end-to-end estimator"):
        estimator_entry(posekit.list_models(task="lift3d")[0])
    with pytest.raises(ValueError, match="backend"):
        build_estimator("blazepose_full", backend="tensorrt")


def test_weights_for_a_model_with_its_own_weights_are_refused_with_the_models_that_take_them():
    message = weights_refusal("blazepose_full")
    assert message.startswith("blazepose_full uses the MediaPipe weights it fetches itself (`posekit weights fetch`); "
                              "weights= / --weights is for the models that load official checkpoints (")
    assert message.endswith("; see `posekit models`)")
    for family in ("hrnet_...", "rtmpose_...", "vitpose_...", "rtmo_..."):
        assert family in message
    takers = [e.name for e in estimator_entries() if e.capabilities.takes_weights]
    assert takers and all(f"{name.split('_')[0]}_..." in message for name in takers)
    for name in ("blazepose_full", "mediapipe_hand_lite", "mediapipe_face_mesh"):
        with pytest.raises(ValueError) as info:  # refused before the builder runs (no TypeError from it)
            build_estimator(name, weights="x.pth")
        assert str(info.value) == weights_refusal(name)
        assert str(info.value).startswith(f"{name} uses the MediaPipe weights it fetches itself")
    with pytest.raises(ValueError, match="rtmpose_t_coco_256x192 takes weights="):
        weights_refusal("rtmpose_t_coco_256x192")
    with pytest.raises(KeyError, match="did you mean"):
        weights_refusal("blazepose_ful")


def test_pose_estimator_is_an_abstract_interface():
    with pytest.raises(TypeError, match="abstract"):
        posekit.PoseEstimator()
    assert issubclass(posekit.TopDownEstimator, posekit.PoseEstimator)
