from __future__ import annotations

import io
import tarfile

import pytest

from posekit.threed.mocap_archive import extract_members, list_members
from tests.conftest import shared_path


def _make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_extract_literal_members_from_cmu_archive(tmp_path):
    archive = shared_path("data", "mocap", "cmu", "cmu_asf_amc.tar.xz")
    out = extract_members(archive, ["asf_amc/subjects/02/02.asf"], tmp_path)
    assert out == [tmp_path / "asf_amc" / "subjects" / "02" / "02.asf"]
    text = out[0].read_text()
    assert ":units" in text and "length 0.45" in text
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["02.asf"]


def test_extract_glob_and_missing(tmp_path):
    arc = tmp_path / "walk.tar.xz"
    with tarfile.open(arc, "w:xz") as tar:
        for name in ("bvh_walkcycles/02_01.bvh", "bvh_walkcycles/02_02.bvh", "bvh_walkcycles/07_01.bvh"):
            info = tarfile.TarInfo(name)
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
    out = extract_members(arc, "bvh_walkcycles/02_0?.bvh", tmp_path / "d")
    assert sorted(p.name for p in out) == ["02_01.bvh", "02_02.bvh"]
    assert out[0].read_text() == "bvh_walkcycles/02_01.bvh"
    with pytest.raises(FileNotFoundError, match="99_99"):
        extract_members(arc, ["bvh_walkcycles/99_99.bvh"], tmp_path / "x")


def test_rejects_path_traversal_and_links(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    _make_tar(bad, [("ok/a.txt", b"a"), ("../evil.txt", b"evil")])
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="unsafe member path"):
        extract_members(bad, ["*"], dest)
    assert not (tmp_path / "evil.txt").exists()
    link = tmp_path / "link.tar"
    with tarfile.open(link, "w") as tar:
        info = tarfile.TarInfo("data/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="link"):
        extract_members(link, ["data/*"], dest)


def test_list_members_and_bad_arguments(tmp_path):
    arc = tmp_path / "a.tar.gz"
    _make_tar(arc, [("x/1.bvh", b"1"), ("x/2.amc", b"2")])
    assert list_members(arc) == ["x/1.bvh", "x/2.amc"]
    out = extract_members(arc, ["x/*.amc"], tmp_path / "d")
    assert [p.read_bytes() for p in out] == [b"2"]
    with pytest.raises(ValueError, match="patterns"):
        extract_members(arc, [], tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extract_members(tmp_path / "nope.tar.xz", ["*"], tmp_path / "d")
