"""The one registry of public model names."""

from __future__ import annotations

import pytest

import posekit
from posekit.models._registry import get_entry


def test_list_models_contains_offline_defaults():
    names = posekit.list_models()
    for name in ("blazepose_full", "mediapipe_hand_full", "mediapipe_hand_lite", "mediapipe_face_mesh"):
        assert name in names
    assert posekit.list_models(task="hand") == ["mediapipe_hand_full", "mediapipe_hand_lite"]


def test_unknown_model_suggests_close_names():
    with pytest.raises(KeyError, match="did you mean blazepose_full"):
        get_entry("blazepose_ful")
    with pytest.raises(KeyError, match="unknown model"):
        posekit.create_model("no_such_model")


def test_every_entry_is_consistent():
    for name in posekit.list_models():
        e = get_entry(name)
        assert e.name == name and e.skeleton.num_keypoints > 0 and e.description
        assert callable(e.build_model)


def test_every_estimator_builder_imports():
    """Each registered end-to-end builder resolves its pipeline (no model is loaded)."""
    import importlib
    import inspect

    for name in posekit.list_models():
        build = get_entry(name).build_estimator
        if build is None:
            continue
        for mod, attr in _lazy_imports(inspect.getsource(build)):
            assert hasattr(importlib.import_module(mod), attr), (name, mod, attr)


def _lazy_imports(source: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"from (posekit[\w.]*) import (\w+)", source)
