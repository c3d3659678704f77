"""Embeddings (PCA, UMAP), feature stacking, save/load, and the PNG / HTML map figures, on constructed pose sets."""

import builtins
import json
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from posekit import skeletons as sk
from posekit.generalization.embed import (
    Embedding,
    embed,
    load_embedding,
    save_embedding,
    stack_features,
)
from posekit.generalization.mapplot import plot_map, write_html
from posekit.generalization.posespace import BODY12, PoseSet, normalize_poses
from tests.generalization.test_posespace import coco_poses


def cloud(n, center=0.0, seed=0, sd=1.0, name=None, dim=2):
    pts = np.random.default_rng(seed).normal(center, sd, (n, 12, dim))
    return PoseSet(pts, BODY12, name or f"cloud{center}")


def test_stack_features_pooled_mean_fill_ids_and_rows():
    a = PoseSet(np.ones((3, 12, 2)), BODY12, "a", indices=[4, 7, 9], n_input=10)
    pts = np.full((2, 12, 2), 3.0)
    pts[0, 5] = np.nan  # right_wrist missing in b's first pose
    b = PoseSet(pts, BODY12, "b")
    before = b.points.copy()
    x, ids, rows = stack_features([a, b])
    assert x.shape == (5, 24) and np.isfinite(x).all()
    np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(rows, [4, 7, 9, 0, 1])
    # pooled mean of right_wrist x, y over the 4 poses that have it: (3 * 1 + 3) / 4 = 1.5, not b's own mean 3
    np.testing.assert_allclose(x[3, 10:12], 1.5)
    np.testing.assert_allclose(x[4], 3.0)
    np.testing.assert_array_equal(b.points, before)
    xz, _, _ = stack_features([a, b], fill="zero")
    np.testing.assert_allclose(xz[3, 10:12], 0.0)
    with pytest.raises(ValueError, match="fill"):
        stack_features([a, b], fill="nan")


def test_stack_features_rejects_other_spaces_and_duplicates():
    a = cloud(5, name="coco")
    with pytest.raises(ValueError, match="'coco' and 'mpii'.*same space"):
        stack_features([a, PoseSet(np.zeros((5, 11, 2)), BODY12[:11], "mpii")])
    with pytest.raises(ValueError, match="'coco' and 'h36m'.*3D"):
        stack_features([a, cloud(5, dim=3, name="h36m")])
    with pytest.raises(ValueError, match="unique.*coco"):
        stack_features([a, cloud(5, 1.0, name="coco")])
    with pytest.raises(ValueError, match="no pose sets"):
        stack_features([])
    with pytest.raises(TypeError, match="PoseSet"):
        stack_features([a, np.zeros((5, 12, 2))])


def test_pca_recovers_the_one_direction_of_variation():
    rng = np.random.default_rng(3)
    direction = rng.normal(size=24)
    direction /= np.linalg.norm(direction)
    t = rng.normal(0, 2.0, 400)
    pts = (1.0 + t[:, None] * direction + rng.normal(0, 1e-3, (400, 24))).reshape(400, 12, 2)
    sets = [PoseSet(pts[:250], BODY12, "a"), PoseSet(pts[250:], BODY12, "b")]
    emb = embed(sets, method="pca")
    assert emb.method == "pca" and emb.coords.shape == (400, 2) and emb.datasets == ("a", "b")
    ev = emb.params["explained_variance"]
    assert ev[0] > 0.999 and ev[1] < 1e-3
    comp = np.array(emb.params["components"])
    assert abs(comp[0] @ direction) > 0.9999
    assert comp[0][np.argmax(np.abs(comp[0]))] > 0  # deterministic sign
    assert abs(np.corrcoef(emb.coords[:, 0], t)[0, 1]) > 0.9999
    # coords are the projection recorded in params (new poses can be projected the same way)
    x, _, _ = stack_features(sets)
    np.testing.assert_allclose((x - np.array(emb.params["mean"])) @ comp.T, emb.coords, atol=1e-9)
    np.testing.assert_array_equal(embed(sets, method="pca").coords, emb.coords)
    # the sign rule does not depend on the data's orientation: mirrored data -> the same component
    neg = [PoseSet(2.0 - s.points, BODY12, s.dataset) for s in sets]
    np.testing.assert_allclose(np.array(embed(neg, method="pca").params["components"])[0], comp[0], atol=1e-6)


def test_pca_on_normalized_poses_and_subsample():
    a = normalize_poses(coco_poses(300, seed=1), sk.coco17, dataset="a")
    b = normalize_poses(coco_poses(50, seed=2, noise=20.0), sk.coco17, dataset="b")
    emb = embed([a, b], method="pca", max_per_set=100, seed=5)
    assert emb.counts() == {"a": 100, "b": 50}
    assert emb.params["n_per_set"] == {"a": 100, "b": 50}
    assert emb.params["n_before_subsample"] == {"a": 300, "b": 50}
    rows_a = emb.source_rows[emb.dataset_ids == 0]
    assert len(set(rows_a.tolist())) == 100 and np.all(np.diff(rows_a) > 0) and rows_a.max() < 300
    again = embed([a, b], method="pca", max_per_set=100, seed=5)
    np.testing.assert_array_equal(again.source_rows, emb.source_rows)
    assert not np.array_equal(embed([a, b], method="pca", max_per_set=100, seed=6).source_rows, emb.source_rows)
    json.dumps(emb.params, allow_nan=False)


def test_embed_bad_input():
    with pytest.raises(ValueError, match=r"unknown method 'tsne'.*\['umap', 'pca'\]"):
        embed([cloud(10)], method="tsne")
    with pytest.raises(ValueError, match="at least 3 poses"):
        embed([cloud(2)], method="pca")


def test_umap_missing_gives_install_hint(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'posekit\[map\]'.*method='pca'"):
        embed([cloud(20)], method="umap")


def test_umap_call_settings(monkeypatch):
    """The UMAP wiring, with a stand-in module (the real fit is the next test)."""
    calls = []

    class FakeUMAP:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def fit_transform(self, x):
            calls.append(x)
            return x[:, :2] * 2

    fake = types.ModuleType("umap")
    fake.UMAP, fake.__version__ = FakeUMAP, "0.0-test"
    monkeypatch.setitem(sys.modules, "umap", fake)
    sets = [cloud(6, name="a"), cloud(4, 5.0, name="b")]
    emb = embed(sets, seed=7, n_neighbors=15, min_dist=0.25)
    assert calls[0] == {"n_components": 2, "n_neighbors": 9, "min_dist": 0.25, "metric": "euclidean",
                        "random_state": 7}
    assert calls[1].dtype == np.float32 and calls[1].shape == (10, 24)
    x, _, _ = stack_features(sets)
    np.testing.assert_allclose(emb.coords, x[:, :2].astype(np.float32) * 2)
    assert emb.coords.dtype == np.float64 and emb.method == "umap"
    assert emb.params["n_neighbors"] == 9 and emb.params["umap_version"] == "0.0-test"
    embed(sets, seed=None)
    assert calls[2]["random_state"] is None


def test_umap_is_reproducible_and_separates_disjoint_clouds():
    pytest.importorskip("umap", reason="umap-learn is the 'map' extra: pip install -e '.[map]'")
    sets = [cloud(200, 0.0, seed=1, name="near"), cloud(200, 6.0, seed=2, name="far")]
    e1 = embed(sets, method="umap", seed=0, n_neighbors=10)
    e2 = embed(sets, method="umap", seed=0, n_neighbors=10)
    np.testing.assert_array_equal(e1.coords, e2.coords)
    assert e1.params["n_neighbors"] == 10 and e1.params["seed"] == 0 and e1.method == "umap"
    # the clouds stay apart: every point's nearest 2D neighbour is from its own cloud, and the gap between the two
    # clusters' centres is larger than their spread
    d = np.linalg.norm(e1.coords[:, None] - e1.coords[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert np.all(e1.dataset_ids[d.argmin(axis=1)] == e1.dataset_ids)
    c0, c1 = (e1.coords[e1.dataset_ids == i] for i in (0, 1))
    gap = np.linalg.norm(c0.mean(0) - c1.mean(0))
    assert gap > 2 * max(c0.std(0).max(), c1.std(0).max())


def test_save_load_round_trip(tmp_path):
    sets = [cloud(30, 0.0, name="a, with comma"), PoseSet(np.random.default_rng(1).normal(size=(20, 12, 2)),
                                                             BODY12, "b", indices=np.arange(100, 120), n_input=200)]
    emb = embed(sets, method="pca")
    path = save_embedding(emb, tmp_path / "out" / "map")
    assert path == tmp_path / "out" / "map.npz"
    back = load_embedding(path)
    np.testing.assert_array_equal(back.coords, emb.coords)
    np.testing.assert_array_equal(back.dataset_ids, emb.dataset_ids)
    np.testing.assert_array_equal(back.source_rows, emb.source_rows)
    assert back.datasets == emb.datasets and back.method == "pca" and back.params == emb.params
    lines = (tmp_path / "out" / "map.csv").read_text().splitlines()
    assert lines[0] == "x,y,dataset,row" and len(lines) == 51
    assert lines[1].endswith(',"a, with comma",0') and lines[-1].endswith(",b,119")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["map.csv", "map.npz"]  # no temp files left
    np.savez(tmp_path / "other.npz", coords=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not a posekit embedding"):
        load_embedding(tmp_path / "other.npz")


def test_embedding_validates_shapes():
    with pytest.raises(ValueError, match=r"coords must have shape \(N, 2\)"):
        Embedding(np.zeros((3, 3)), np.zeros(3), ("a",), np.zeros(3), "pca")
    with pytest.raises(ValueError, match="dataset_ids must lie"):
        Embedding(np.zeros((3, 2)), [0, 1, 2], ("a", "b"), np.zeros(3), "pca")


@pytest.fixture(scope="module")
def three_sets_embedding():
    sets = [cloud(3000, 0.0, seed=1, name="big"), cloud(400, 3.0, seed=2, name="mid"),
            cloud(25, 0.5, seed=3, name="tiny </script><b>")]
    return embed(sets, method="pca")


def test_plot_map_writes_a_png(tmp_path, three_sets_embedding):
    emb = three_sets_embedding
    path = plot_map(emb, tmp_path / "map.png", title="test map")
    assert path.stat().st_size > 20_000
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape[0] > 500 and rgb.shape[1] > 500
    # tab10 blue, orange and green (the three datasets) are all drawn
    for color in ((31, 119, 180), (255, 127, 14), (44, 160, 44)):
        assert (np.abs(rgb.astype(int) - color).sum(axis=2) < 40).sum() > 20
    small = plot_map(emb, tmp_path / "small.png", max_points_per_set=50, point_size=4)
    assert small.stat().st_size > 10_000


def test_write_html_is_self_contained_and_parses(tmp_path, three_sets_embedding):
    emb = three_sets_embedding
    path = write_html(emb, tmp_path / "map.html", title="A & B map")
    text = path.read_text(encoding="utf-8")
    assert "A &amp; B map" in text and "http" not in text and "<script src" not in text
    assert text.count("</script>") == 2  # the dataset name's "</script>" is escaped inside the JSON
    m = re.search(r'<script type="application/json" id="posekit-map-data">(.*?)</script>', text, re.DOTALL)
    data = json.loads(m.group(1))
    assert data["datasets"] == ["big", "mid", "tiny </script><b>"]
    assert data["counts"] == [3000, 400, 25] and data["order"] == [0, 1, 2]
    assert len(data["x"]) == len(data["y"]) == len(data["d"]) == len(data["r"]) == len(emb)
    np.testing.assert_allclose(data["x"], emb.coords[:, 0], atol=5e-4)
    assert all(len(repr(v).split(".")[-1]) <= 3 for v in data["x"][:200])
    assert path.stat().st_size < 100 * len(emb)
    node = shutil.which("node")
    if node:  # the inline JavaScript is at least syntactically valid
        js = re.findall(r"<script>(.*?)</script>", text, re.DOTALL)[0]
        (tmp_path / "map.js").write_text(js)
        subprocess.run([node, "--check", str(tmp_path / "map.js")], check=True, capture_output=True)
