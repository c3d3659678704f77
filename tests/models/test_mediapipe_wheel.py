"""MediaPipe wheel: extraction with pinned sha256, the tflite cache, the converted safetensors cache.

Fast tests build a tiny fake wheel. Tests on the real wheel run when ``$POSEKIT_MEDIAPIPE_WHEEL`` names one
(e.g. ``/tmp/mpwheel/mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl``); the real
pip download is marked ``network`` and ``slow``.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest
import torch

from posekit.models.converted import StaleCacheError, read_converted, save_converted
from posekit.models.mediapipe_wheel import (
    FACE_LANDMARK,
    MEDIAPIPE_ASSETS,
    MEDIAPIPE_GROUPS,
    POSE_DETECTION,
    TFLiteAsset,
    converted_path,
    downloadmediapipe_wheel,
    extract_tflite,
    fetch_group,
    fetch_tflite,
    load_mediapipe_module,
)
from posekit.models.weights import ChecksumError, WeightsError

REAL_WHEEL = os.environ.get("POSEKIT_MEDIAPIPE_WHEEL")
needs_real_wheel = pytest.mark.skipif(
    not (REAL_WHEEL and Path(REAL_WHEEL).is_file()),
    reason="set POSEKIT_MEDIAPIPE_WHEEL to a mediapipe-0.10.14 wheel on disk to run the real-wheel tests",
)

FAKE_BYTES = b"TFL3" + bytes(range(256)) * 8000  # ~2 MB: several read chunks
FAKE = TFLiteAsset("mediapipe/modules/fake/fake_model.tflite", hashlib.sha256(FAKE_BYTES).hexdigest())


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    """An empty posekit cache; no wheel configured in the environment."""
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("POSEKIT_MEDIAPIPE_WHEEL", raising=False)
    return tmp_path / "home"


@pytest.fixture()
def fake_wheel(tmp_path) -> Path:
    path = tmp_path / "mediapipe-0.10.14-fake.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(FAKE.member, FAKE_BYTES)
        z.writestr("mediapipe/modules/fake/other.tflite", b"other")
    return path


def _no_partials(folder: Path) -> bool:
    return not any(p.name.endswith(".part") for p in folder.iterdir())


def test_asset_table_is_consistent():
    assert {a for group in MEDIAPIPE_GROUPS.values() for a in group} == set(MEDIAPIPE_ASSETS)
    assert len({a.name for a in MEDIAPIPE_ASSETS}) == len(MEDIAPIPE_ASSETS) == 8
    for a in MEDIAPIPE_ASSETS:
        assert a.member == f"mediapipe/modules/{a.member.split('/')[2]}/{a.name}.tflite"
        assert len(a.sha256) == 64 and int(a.sha256, 16) >= 0


def test_extract_verifies_sha256(fake_wheel, tmp_path):
    out = tmp_path / "out"
    assert extract_tflite(fake_wheel, [FAKE], out) == [out / "fake_model.tflite"]
    assert (out / "fake_model.tflite").read_bytes() == FAKE_BYTES

    wrong = TFLiteAsset("mediapipe/modules/fake/other.tflite", "ab" * 32)
    actual = hashlib.sha256(b"other").hexdigest()
    pattern = f"mediapipe/modules/fake/other.tflite .*expected {'ab' * 32}, got {actual}"
    with pytest.raises(ChecksumError, match=pattern):
        extract_tflite(fake_wheel, [wrong], out)
    assert not (out / "other.tflite").exists() and _no_partials(out)


def test_extract_bad_inputs(fake_wheel, tmp_path):
    with pytest.raises(WeightsError, match="has no member mediapipe/modules/pose_detection/pose_detection.tflite"):
        extract_tflite(fake_wheel, [POSE_DETECTION], tmp_path / "out")
    not_zip = tmp_path / "broken.whl"
    not_zip.write_bytes(b"<html>proxy error</html>")
    with pytest.raises(WeightsError, match="broken.whl is not a readable wheel"):
        extract_tflite(not_zip, [FAKE], tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="absent.whl does not exist"):
        extract_tflite(tmp_path / "absent.whl", [FAKE], tmp_path / "out")


def test_fetch_tflite_caches_and_repairs(home, fake_wheel, monkeypatch):
    messages: list[str] = []
    path = fetch_tflite(FAKE, wheel=fake_wheel, progress=messages.append)
    assert path == home / "mediapipe-0.10.14" / "fake_model.tflite" and path.read_bytes() == FAKE_BYTES
    assert messages == [f"posekit: extracting fake_model from {fake_wheel.name} (one-time)..."]

    # Cached and valid: no wheel is touched (this one does not exist).
    monkeypatch.setenv("POSEKIT_MEDIAPIPE_WHEEL", str(fake_wheel.parent / "gone.whl"))
    assert fetch_tflite(FAKE, progress=messages.append) == path and len(messages) == 1

    # A damaged cached file is re-extracted, here from the wheel named by the environment.
    path.write_bytes(FAKE_BYTES[:100])
    with pytest.raises(FileNotFoundError, match=r"gone.whl \(given by \$POSEKIT_MEDIAPIPE_WHEEL\) does not exist"):
        fetch_tflite(FAKE, progress=None)
    monkeypatch.setenv("POSEKIT_MEDIAPIPE_WHEEL", str(fake_wheel))
    assert fetch_tflite(FAKE, progress=None).read_bytes() == FAKE_BYTES


def test_pip_failure_explains_offline_options(tmp_path, monkeypatch):
    # A real pip run that cannot reach any index: no config files, no index.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(WeightsError) as info:
        downloadmediapipe_wheel(tmp_path)
    message = str(info.value)
    assert "pip could not download mediapipe==0.10.14" in message
    assert "mediapipe" in message.split("\n", 1)[1]  # pip's own stderr is included
    assert "--from-wheel PATH" in message and "POSEKIT_MEDIAPIPE_WHEEL" in message


def test_converted_cache_roundtrip_and_damage(home):
    tensors = {"conv.weight": torch.randn(8, 3, 3, 3), "conv.bias": torch.randn(8)}
    view = tensors["conv.weight"][:, :1]  # non-contiguous view sharing storage
    inputs = {**tensors, "view": view}
    snapshot = {k: v.clone() for k, v in inputs.items()}
    target = converted_path(FAKE)
    save_converted(target, '{"ops": []}', inputs, asset=FAKE, converter_version="7")
    assert all(torch.equal(inputs[k], snapshot[k]) for k in inputs) and _no_partials(target.parent)

    spec, loaded, meta = read_converted(target, asset=FAKE)
    assert spec == '{"ops": []}' and set(loaded) == set(inputs)
    assert all(torch.equal(loaded[k], inputs[k]) for k in inputs)
    assert meta["posekit.source_sha256"] == FAKE.sha256 and meta["posekit.converter_version"] == "7"

    with pytest.raises(StaleCacheError, match="was not converted from mediapipe/modules/pose_detection"):
        read_converted(target, asset=POSE_DETECTION)
    with pytest.raises(ValueError):
        save_converted(target, "not json", tensors, asset=FAKE, converter_version="7")
    data = target.read_bytes()
    for damaged in (data[: len(data) // 2], b"\x00" * 64, b""):
        target.write_bytes(damaged)
        with pytest.raises(StaleCacheError, match="fake_model.safetensors is corrupt"):
            read_converted(target, asset=FAKE)


def test_corrupt_cache_without_source_asks_for_fetch_force(home):
    target = converted_path(FACE_LANDMARK)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    with pytest.raises(WeightsError, match=r"face_landmark.safetensors is corrupt.*"
                                           r"posekit weights fetch face --force.*--from-wheel PATH"):
        load_mediapipe_module(FACE_LANDMARK, progress=None)
    with pytest.raises(ValueError, match="unknown MediaPipe group 'pose'; choose from blazepose, hand, face or all"):
        fetch_group("pose")


@needs_real_wheel
def test_real_wheel_matches_pinned_hashes(tmp_path):
    paths = extract_tflite(REAL_WHEEL, MEDIAPIPE_ASSETS, tmp_path)
    assert [p.name for p in paths] == [f"{a.name}.tflite" for a in MEDIAPIPE_ASSETS]
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == a.sha256 for p, a in zip(paths, MEDIAPIPE_ASSETS))


@needs_real_wheel
def test_load_convert_cache_and_reconvert_real_model(home):
    messages: list[str] = []
    paths = fetch_group("blazepose", wheel=REAL_WHEEL, progress=messages.append)
    assert paths == [converted_path(a) for a in MEDIAPIPE_GROUPS["blazepose"]] and all(p.is_file() for p in paths)
    assert len(messages) == 1 and "pose_detection, pose_landmark_full" in messages[0]

    first = load_mediapipe_module(POSE_DETECTION, progress=messages.append)
    assert len(messages) == 1  # served from the cache, nothing fetched
    state = {k: v.clone() for k, v in first.state_dict().items()}

    converted_path(POSE_DETECTION).write_bytes(b"\x00" * 32)  # damage the cache; the .tflite is still cached
    second = load_mediapipe_module(POSE_DETECTION, progress=messages.append)
    assert "re-converting pose_detection" in messages[-1]
    assert state.keys() == second.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in second.state_dict().items())
    spec, tensors, meta = read_converted(converted_path(POSE_DETECTION), asset=POSE_DETECTION)  # valid again

    # A cache written by another converter version is re-converted from the cached .tflite.
    save_converted(converted_path(POSE_DETECTION), spec, tensors, asset=POSE_DETECTION, converter_version="old")
    third = load_mediapipe_module(POSE_DETECTION, progress=messages.append)
    assert "converted by converter version 'old'" in messages[-1]
    assert read_converted(converted_path(POSE_DETECTION), asset=POSE_DETECTION)[2]["posekit.converter_version"] \
        == meta["posekit.converter_version"]
    with torch.no_grad():
        outputs = third(torch.zeros(1, 3, 224, 224))
    outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
    assert sorted(tuple(o.shape) for o in outputs) == [(1, 2254, 1), (1, 2254, 12)]


@pytest.mark.network
@pytest.mark.slow
def test_pip_downloads_the_real_wheel(tmp_path):
    wheel = downloadmediapipe_wheel(tmp_path)
    assert wheel.name.startswith("mediapipe-0.10.14-") and wheel.suffix == ".whl"
    extract_tflite(wheel, MEDIAPIPE_ASSETS, tmp_path / "out")


@needs_real_wheel
def test_first_use_takes_every_pinned_model_from_one_wheel(home):
    """Fetching one model extracts the other pinned ones too, so a later first use never downloads again."""
    from posekit.models.mediapipe_wheel import fetch_tflite as fetch

    fetch(MEDIAPIPE_ASSETS[0], wheel=REAL_WHEEL, progress=None)
    cached = home / "mediapipe-0.10.14"
    assert {p.name for p in cached.glob("*.tflite")} == {a.filename for a in MEDIAPIPE_ASSETS}
