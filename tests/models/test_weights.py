"""Weights as data: sha256 checks, atomic writes, URL downloads and weights_only checkpoint loading."""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models import mediapipe_wheel
from posekit.models import weights as weights_module
from posekit.models.weights import (
    ChecksumError,
    WeightsError,
    WeightsSpec,
    atomic_writer,
    cache_dir,
    download_url,
    fetch_weights,
    load_checkpoint,
    verify_sha256,
)
from tests.conftest import shared_path

PAYLOAD = bytes(range(256)) * 4099  # ~1 MiB + a bit: more than one read chunk
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_cache_dir_follows_posekit_home(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home" / "cache"))
    assert cache_dir() == tmp_path / "home" / "cache"
    assert cache_dir().is_dir()


def test_verify_sha256_full_prefix_and_mismatch(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(PAYLOAD)
    assert verify_sha256(path, PAYLOAD_SHA) == path
    assert verify_sha256(path, PAYLOAD_SHA[:8].upper()) == path  # OpenMMLab-style 8-digit prefix
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=f"expected {wrong}, got {PAYLOAD_SHA}"):
        verify_sha256(path, wrong)
    with pytest.raises(ValueError, match="8 to 64 hex digits"):
        verify_sha256(path, "abc")
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        verify_sha256(tmp_path / "missing.bin", PAYLOAD_SHA)


def test_atomic_writer_interrupted_write_leaves_no_half_file(tmp_path):
    fresh, existing = tmp_path / "fresh.bin", tmp_path / "existing.bin"
    existing.write_bytes(b"old complete content")
    for dest in (fresh, existing):
        with pytest.raises(RuntimeError, match="killed"), atomic_writer(dest) as f:
            f.write(PAYLOAD[:1000])
            raise RuntimeError("killed mid-write")
    assert not fresh.exists()
    assert existing.read_bytes() == b"old complete content"
    assert _leftovers(tmp_path) == []
    with atomic_writer(tmp_path / "sub" / "done.bin") as f:
        f.write(PAYLOAD)
    assert (tmp_path / "sub" / "done.bin").read_bytes() == PAYLOAD
    assert _leftovers(tmp_path / "sub") == []


@pytest.fixture()
def http_root(tmp_path):
    """A local HTTP server (in a thread) serving ``tmp_path / 'srv'``; yields (base_url, folder)."""
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_url_from_local_http_server(http_root, tmp_path):
    base, root = http_root
    (root / "w.pth").write_bytes(PAYLOAD)
    dest = tmp_path / "dl" / "w.pth"
    assert download_url(f"{base}/w.pth", dest, sha256=PAYLOAD_SHA, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    # Already cached with the right hash: no request is made (this URL would fail).
    assert download_url("http://127.0.0.1:1/w.pth", dest, sha256=PAYLOAD_SHA[:8], progress=False) == dest

    bad = tmp_path / "dl" / "bad.pth"
    with pytest.raises(ChecksumError, match=f"expected {'1' * 64}, got {PAYLOAD_SHA}"):
        download_url(f"{base}/w.pth", bad, sha256="1" * 64, progress=False)
    with pytest.raises(WeightsError, match="could not download .*404"):
        download_url(f"{base}/absent.pth", bad, sha256=PAYLOAD_SHA, progress=False)
    assert not bad.exists()
    assert _leftovers(dest.parent) == []


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Announces the whole payload, sends a tenth of it, then drops the connection."""

    def do_GET(self):  # noqa: N802 (http.server API)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 10])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_download_url_interrupted_transfer_keeps_previous_file(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dest = tmp_path / "w.pth"
    dest.write_bytes(b"previous verified copy")
    try:
        with pytest.raises(WeightsError, match="interrupted|incomplete"):
            download_url(f"http://127.0.0.1:{server.server_address[1]}/w.pth", dest, sha256=PAYLOAD_SHA,
                         progress=False, force=True)
    finally:
        server.shutdown()
        server.server_close()
    assert dest.read_bytes() == b"previous verified copy" and _leftovers(tmp_path) == []


def test_download_url_file_scheme_replaces_a_corrupt_copy(tmp_path):
    src = tmp_path / "src.pth"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "src.pth"
    dest.parent.mkdir()
    dest.write_bytes(b"truncated")
    download_url(src.as_uri(), dest, sha256=PAYLOAD_SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD


def _spec(url: str, sha: str, **kw) -> WeightsSpec:
    fields = dict(url=url, sha256=sha, filename="w.pth", input_size=(192, 256), mean=(123.675, 116.28, 103.53),
                  std=(58.395, 57.12, 57.375), license="Apache-2.0", source="test")
    return WeightsSpec(**{**fields, **kw})


def test_weights_spec_validates_and_copies_meta(tmp_path, monkeypatch):
    meta = {"codec": {"type": "MSRAHeatmap"}}
    spec = _spec("file:///x", PAYLOAD_SHA, meta=meta)
    meta["codec"] = "changed"
    assert spec.meta["codec"] == {"type": "MSRAHeatmap"}
    with pytest.raises(TypeError):
        spec.meta["new"] = 1  # read-only
    assert spec.input_size == (192, 256) and spec.mean == (123.675, 116.28, 103.53)
    with pytest.raises(ValueError, match="sha256 must be"):
        _spec("file:///x", "xyz")
    with pytest.raises(ValueError, match=r"input_size must be \(width, height\)"):
        _spec("file:///x", PAYLOAD_SHA, input_size=(192, 0))
    with pytest.raises(ValueError, match="same length"):
        _spec("file:///x", PAYLOAD_SHA, std=(1.0, 1.0))
    with pytest.raises(ValueError, match="non-zero with an input_size"):
        _spec("file:///x", PAYLOAD_SHA, mean=(), std=())
    keypoints_model = _spec("file:///x", PAYLOAD_SHA, input_size=None, mean=(), std=())  # e.g. a 3D lifter
    assert keypoints_model.input_size is None and keypoints_model.mean == ()
    with pytest.raises(TypeError):
        WeightsSpec("file:///x", PAYLOAD_SHA, "w.pth", "MIT", "test")  # keyword-only
    with pytest.raises(ValueError, match="bare file name"):
        _spec("file:///x", PAYLOAD_SHA, filename="../w.pth")

    src = tmp_path / "official.pth"
    src.write_bytes(PAYLOAD)
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    path = fetch_weights(_spec(src.as_uri(), PAYLOAD_SHA[:8]), progress=False)
    assert path == tmp_path / "home" / "checkpoints" / "w.pth" and path.read_bytes() == PAYLOAD


def test_unpinned_weights_are_never_downloaded_but_a_user_copy_is_used(tmp_path, monkeypatch):
    """sha256=None (an official file name with no hash tag): no download; a file the user put in the cache is used."""
    from posekit.models.registry import get_entry
    from posekit.models.weights import fetch_pretrained

    src = tmp_path / "official.pth"
    src.write_bytes(PAYLOAD)
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    spec = _spec(src.as_uri(), None)
    with pytest.raises(WeightsError, match="no published sha256.*does not download it unverified"):
        fetch_weights(spec, progress=False)
    assert not (tmp_path / "home" / "checkpoints" / "w.pth").exists()
    with pytest.raises(WeightsError, match=r"needs weights: .*no published sha256.*--weights PATH"):
        fetch_pretrained(spec, what="model x", progress=False)
    cached = tmp_path / "home" / "checkpoints" / "w.pth"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(PAYLOAD)
    assert fetch_weights(spec, progress=False) == cached
    hand5 = get_entry("rtmpose_m_hand5_256x256").weights  # its file name's tag has 7 hex digits
    assert hand5.sha256 is None and "74fb594" in hand5.notes


def test_load_checkpoint_mmpose_fixture_matches_manifest():
    root = shared_path("fixtures", "mmpose")
    path = root / "parity" / "hrnet_tiny" / "model.pth"
    manifest = dict(line.split("\t")[::-1][:2] for line in (root / "MANIFEST.tsv").read_text().splitlines()[1:])
    verify_sha256(path, manifest["parity/hrnet_tiny/model.pth"])
    expected = json.loads((path.parent / "info.json").read_text())["state_dict"]

    state = load_checkpoint(path)
    assert list(state) == list(expected)  # unwrapped from {'meta', 'state_dict'}, order kept
    assert {k: list(v.shape) for k, v in state.items()} == expected
    assert state["backbone.conv1.weight"].dtype == torch.float16
    assert state["backbone.bn1.num_batches_tracked"].dtype == torch.int64
    assert sum(v.numel() for k, v in state.items() if "num_batches" not in k) >= 620009


def test_load_checkpoint_unwraps_and_accepts_numpy_meta(tmp_path):
    # Real MMPose 1.x checkpoints keep numpy arrays in ``meta``; weights_only must still read them.
    weights = {"module.conv.weight": torch.randn(4, 3, 3, 3), "module.conv.bias": torch.randn(4)}
    ckpt = {"meta": {"sigmas": np.array([0.026, 0.025]), "epoch": np.int64(210)}, "model": {"state_dict": weights}}
    path = tmp_path / "ckpt.pth"
    torch.save(ckpt, path)
    state = load_checkpoint(path)
    assert list(state) == ["conv.weight", "conv.bias"]
    torch.testing.assert_close(state["conv.weight"], weights["module.conv.weight"], rtol=0, atol=0)
    assert "module.conv.weight" in ckpt["model"]["state_dict"]  # input structure untouched

    from safetensors.torch import save_file

    save_file({"a": torch.ones(2)}, str(tmp_path / "w.safetensors"))
    assert torch.equal(load_checkpoint(tmp_path / "w.safetensors")["a"], torch.ones(2))


class _Custom:
    """A class of this test module: torch.save pickles it by reference (``tests.models.test_weights._Custom``)."""

    def __init__(self) -> None:
        self.lr = 0.1


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_load_checkpoint_refuses_pickled_objects_without_advising_to_unpickle(tmp_path, legacy):
    path = tmp_path / "legacy.pth"
    ckpt = {"args": argparse.Namespace(lr=0.1), "opt": _Custom(), "meta": {"sigmas": np.ones(3)},
            "state_dict": {"w": torch.ones(2)}}
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path} was refused: it holds pickled Python objects other than tensors (")
    # the zip format lists every refused global; the legacy format stops at the first one
    named = ["argparse.Namespace"] + ([] if legacy else [f"{__name__}._Custom"])  # sorted
    assert message[message.index("(") + 1:message.index(")")].split(", ") == named  # numpy: allowed, not named
    assert "never unpickles" in message and "torch.save(model.state_dict()" in message
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message


def test_load_checkpoint_text_file_is_not_a_checkpoint(tmp_path):
    text = tmp_path / "weights.json"
    text.write_text(json.dumps({"state_dict": {"w": [1, 2, 3]}}))
    with pytest.raises(WeightsError) as info:
        load_checkpoint(text)
    assert str(info.value) == (f"{text} is not a PyTorch checkpoint (it starts with b'{{\"state_dict\": {{\"w\":'; "
                               "expected a .pth/.pt file written by torch.save or a .safetensors file)")
    assert "pickle" not in str(info.value) and "weights_only" not in str(info.value)
    for name, data in (("empty.pth", b""), ("plain.pkl", pickle.dumps({"w": [1.0]}, protocol=4))):
        (tmp_path / name).write_bytes(data)  # an empty file; a pickle that torch.save did not write
        with pytest.raises(WeightsError, match=f"{name} is not a PyTorch checkpoint \\(it starts with b"):
            load_checkpoint(tmp_path / name)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "not torch")
    with pytest.raises(WeightsError, match="images.zip is not a PyTorch checkpoint \\(a zip archive without the "
                                           "data.pkl"):
        load_checkpoint(archive)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_load_checkpoint_truncated_file_is_truncated_or_corrupt(tmp_path, legacy):
    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"w": torch.ones(300)}}, good, _use_new_zipfile_serialization=not legacy)
    assert list(load_checkpoint(good)) == ["w"]
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    kind = "a pickle stream" if legacy else "a zip archive"
    with pytest.raises(WeightsError, match=f"cut.pth is truncated or corrupt: it starts like a torch.save file "
                                           f"\\({kind}\\) but cannot be read .*; download or copy it again") as info:
        load_checkpoint(cut)
    assert "weights_only" not in str(info.value) and "refused" not in str(info.value)


def test_load_checkpoint_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth does not exist"):
        load_checkpoint(tmp_path / "nope.pth")
    mixed = tmp_path / "mixed.pth"
    torch.save({"w": torch.ones(1), "step": 3}, mixed)
    with pytest.raises(WeightsError, match=r"non-tensor entries \['step'\]"):
        load_checkpoint(mixed)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(WeightsError, match="bad.safetensors is not a readable safetensors file"):
        load_checkpoint(bad_st)
    from safetensors.torch import save_file

    save_file({"a": torch.arange(3.0)}, str(tmp_path / "renamed.bin"))  # safetensors under another name
    assert torch.equal(load_checkpoint(tmp_path / "renamed.bin")["a"], torch.arange(3.0))


def test_fetch_pretrained_failure_names_url_hash_license_and_weights_option(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    missing = (tmp_path / "absent.pth").as_uri()
    spec = _spec(missing, PAYLOAD_SHA[:8], license="research use only")
    with pytest.raises(WeightsError) as info:
        weights_module.fetch_pretrained(spec, what="model x", alternative=", or --random-weights", progress=False)
    assert str(info.value).startswith(f"model x needs weights: its official checkpoint {missing} (sha256 starts "
                                      f"with {PAYLOAD_SHA[:8]}; license: research use only) could not be downloaded (")
    assert str(info.value).endswith("Download it elsewhere and pass --weights PATH (weights= in Python), or "
                                    "--random-weights")
    src = tmp_path / "official.pth"
    src.write_bytes(PAYLOAD[:-1])  # a different file: the hash mismatch is a ChecksumError with the same advice
    with pytest.raises(ChecksumError, match=f"model x needs weights: .*sha256 {PAYLOAD_SHA}.*expected {PAYLOAD_SHA}, "
                                            "got .*pass --weights PATH"):
        weights_module.fetch_pretrained(_spec(src.as_uri(), PAYLOAD_SHA), what="model x", progress=False)
    src.write_bytes(PAYLOAD)
    assert weights_module.fetch_pretrained(_spec(src.as_uri(), PAYLOAD_SHA), what="model x", progress=False) == (
        tmp_path / "home" / "checkpoints" / "w.pth")


def test_fetch_pretrained_names_the_license_after_a_download(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    src = tmp_path / "official.pth"
    src.write_bytes(PAYLOAD)
    spec = _spec(src.as_uri(), PAYLOAD_SHA, license="research use only")
    weights_module.fetch_pretrained(spec, what="model x")
    assert "posekit: model x: downloaded w.pth (license: research use only)" in capsys.readouterr().err
    weights_module.fetch_pretrained(spec, what="model x")  # cached: nothing new to say
    assert "downloaded" not in capsys.readouterr().err
