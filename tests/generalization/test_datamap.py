"""``posekit datamap`` / :func:`posekit.generalization.datamap.build_datamap` on real sources from ../shared (LSP,
PoseTrack18 frames, CMU mocap through the virtual cameras): the files it writes, their contents and the clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from posekit.generalization.datamap import build_datamap
from posekit.generalization.embed import load_embedding
from posekit.generalization.sources import PoseSource, parse_source
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def sources() -> list[PoseSource]:
    lsp = shared_path("data", "lsp")
    posetrack = shared_path("data", "mmpose_testdata", "tests", "data", "posetrack18", "annotations", "val")
    coco = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    return [parse_source(f"LSP={lsp}"), parse_source(f"PoseTrack18={posetrack}"), parse_source(f"COCO={coco}")]


def test_pca_map_files_counts_and_coverage(tmp_path, sources):
    summary = build_datamap(sources, out=tmp_path, methods=("pca",), max_per_set=300, seed=3,
                            coverage_max_per_set=300, k=3)
    counts = {s["name"]: s for s in summary["sources"]}
    assert counts["LSP"]["input"] == 2000 and counts["LSP"]["mapped"] == 300  # seeded subsample
    assert counts["PoseTrack18"]["input"] == 14 and counts["PoseTrack18"]["mapped"] == 13
    for s in counts.values():
        assert s["normalised"] + s["dropped"] == s["input"]
    emb = load_embedding(tmp_path / "embedding_pca.npz")
    assert emb.datasets == ("LSP", "PoseTrack18", "COCO")
    assert np.bincount(emb.dataset_ids).tolist() == [s["mapped"] for s in summary["sources"]]
    assert np.isfinite(emb.coords).all() and emb.method == "pca"
    for name in ("map_pca.png", "map_pca.html", "coverage.json", "coverage.md", "datamap.json"):
        assert (tmp_path / name).stat().st_size > 500, name
    on_disk = json.loads((tmp_path / "datamap.json").read_text())
    assert on_disk["options"]["joints"][0] == "left_shoulder" and on_disk["options"]["seed"] == 3
    assert set(on_disk["seconds"]) >= {"load", "embed_pca", "coverage", "total"}
    table = json.loads((tmp_path / "coverage.json").read_text())
    assert len(table["pairs"]) == 6  # ordered pairs of 3 sets

    again = build_datamap(sources, out=tmp_path / "again", methods=("pca",), max_per_set=300, seed=3,
                          coverage=False)
    np.testing.assert_array_equal(load_embedding(tmp_path / "again" / "embedding_pca.npz").coords, emb.coords)
    assert again["coverage"] is None and not (tmp_path / "again" / "coverage.json").exists()


def test_mocap_3d_body_frame_map(tmp_path):
    cmu = parse_source(f"CMU=cmu:{shared_path('data', 'mocap', 'cmu')}")
    summary = build_datamap([cmu], out=tmp_path, dim=3, frame="body", methods=("pca",), max_per_set=500,
                            stride=24)
    assert summary["options"]["frame"] == "body" and summary["sources"][0]["mapped"] == 500
    assert load_embedding(tmp_path / "embedding_pca.npz").coords.shape == (500, 2)


def test_errors_are_clear(tmp_path, sources):
    with pytest.raises(ValueError, match="distinct"):
        build_datamap([sources[0], sources[0]], out=tmp_path, methods=("pca",))
    with pytest.raises(ValueError, match="methods must be among"):
        build_datamap(sources[:1], out=tmp_path, methods=("tsne",))
    with pytest.raises(ValueError, match="at least one"):
        build_datamap([], out=tmp_path)
    with pytest.raises(ValueError, match="holds 2D poses"):
        build_datamap(sources[:1], out=tmp_path, dim=3, methods=("pca",))


def test_cli_map_and_error_on_a_hand_dataset(tmp_path, sources):
    from posekit.cli import app

    runner = CliRunner()
    lsp, posetrack = (f"{s.name}={s.path}" for s in sources[:2])
    res = runner.invoke(app, ["datamap", lsp, posetrack, "--method", "pca", "--max-per-set", "200",
                              "--coverage-max-per-set", "50", "--k", "3", "--scale", "bones", "--canonical-lr",
                              "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "Coverage" in res.output and "213 poses mapped" in res.output
    assert json.loads((tmp_path / "m" / "datamap.json").read_text())["options"]["canonicalize_lr"] is True

    hands = shared_path("data", "mmpose_testdata", "tests", "data", "onehand10k", "test_onehand10k.json")
    res = runner.invoke(app, ["datamap", lsp, f"HANDS=coco:{hands}", "--method", "pca", "--out", str(tmp_path / "h")])
    assert res.exit_code == 2 and "no keypoint mapping from skeleton 'hand21'" in res.output
    res = runner.invoke(app, ["datamap", lsp, "--method", "tsne", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--method must be umap, pca or both" in res.output
    res = runner.invoke(app, ["datamap", "LSP", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "NAME=PATH" in res.output


def test_clip_selection_splits_the_mocap():
    path = shared_path("data", "mocap", "cmu")
    amc = parse_source(f"AMC=cmu:{path}#01_,02_,03_")
    walks = parse_source(f"walks=cmu:{path}#!01_,02_,03_")
    assert amc.clips == ("01_", "02_", "03_") and amc.keeps("02_07") and not amc.keeps("16_01")
    assert walks.keeps("16_01") and not walks.keeps("01_01")
    from posekit.generalization.sources import load_raw

    every = load_raw(parse_source(f"CMU=cmu:{path}"), dim=3, stride=24)
    a, w = load_raw(amc, dim=3, stride=24), load_raw(walks, dim=3, stride=24)
    assert len(a) + len(w) == len(every) and len(a) > 0 and len(w) > 0
    assert all(lbl[:3] in ("01_", "02_", "03_") for lbl in a.group_labels)
    with pytest.raises(ValueError, match="clip selection applies to 3D sources"):
        parse_source(f"LSP={shared_path('data', 'lsp')}#01_")
