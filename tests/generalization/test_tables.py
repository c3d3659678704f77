"""The coverage table on constructed distributions with known overlap, and its Markdown."""

import json
import re

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.generalization.posespace import BODY12, PoseSet, normalize_poses
from posekit.generalization.tables import coverage_table, format_coverage_markdown
from tests.generalization.test_posespace import coco_poses


def cloud(n, center=0.0, sd=1.0, seed=0, name="x", dim=2):
    return PoseSet(np.random.default_rng(seed).normal(center, sd, (n, 12, dim)), BODY12, name)


@pytest.fixture(scope="module")
def table():
    sets = [cloud(300, 0.0, 1.0, 1, "same1"), cloud(300, 0.0, 1.0, 2, "same2"), cloud(300, 20.0, 1.0, 3, "far"),
            cloud(300, 0.0, 0.3, 4, "narrow")]
    return coverage_table(sets, k=5, seed=0)


def pair(table, a, b):
    (p,) = [p for p in table["pairs"] if p["a"] == a and p["b"] == b]
    return p


def test_identical_distributions_cover_each_other_and_are_inseparable(table):
    for a, b in (("same1", "same2"), ("same2", "same1")):
        p = pair(table, a, b)
        assert p["coverage"] > 0.95
        assert 0.35 < p["separability"] < 0.65
        ratio = p["nn_distance_quantiles"]["0.5"] / p["reference_quantiles"]["0.5"]
        assert 0.85 < ratio < 1.15


def test_disjoint_distributions(table):
    for other in ("same1", "same2", "narrow"):
        for a, b in (("far", other), (other, "far")):
            p = pair(table, a, b)
            assert p["coverage"] == 0.0
            assert p["separability"] > 0.98
            assert p["nn_distance_quantiles"]["0.5"] > 10 * p["reference_quantiles"]["0.5"]


def test_narrow_set_inside_broad_one_is_covered_not_the_reverse(table):
    assert pair(table, "narrow", "same1")["coverage"] > 0.95
    assert pair(table, "same1", "narrow")["coverage"] < 0.05


def test_structure_symmetry_and_variance(table):
    names = ["same1", "same2", "far", "narrow"]
    assert [d["name"] for d in table["datasets"]] == names
    assert len(table["pairs"]) == 4 * 3
    assert {(p["a"], p["b"]) for p in table["pairs"]} == {(a, b) for a in names for b in names if a != b}
    for p in table["pairs"]:
        q = pair(table, p["b"], p["a"])
        assert p["separability"] == q["separability"] and p["fold_accuracies"] == q["fold_accuracies"]
        assert len(p["fold_accuracies"]) == 5 and p["radius"] > 0 and p["n_a"] == 300
        assert set(p["nn_distance_quantiles"]) == {"0.5", "0.9", "0.95"}
    # per-joint variance of a 2D Gaussian with sd s: 2 s^2 per joint
    var = {d["name"]: np.array(list(d["per_joint_variance"].values())) for d in table["datasets"]}
    assert list(table["datasets"][0]["per_joint_variance"]) == list(BODY12)
    np.testing.assert_allclose(var["same1"], 2.0, rtol=0.2)
    np.testing.assert_allclose(var["narrow"], 2 * 0.3 ** 2, rtol=0.2)
    assert table["params"]["k"] == 5 and table["params"]["joint_names"] == list(BODY12)
    json.loads(json.dumps(table, allow_nan=False))


def test_normalized_poses_with_missing_joints_and_subsample():
    kp = coco_poses(400, seed=1)
    kp[:200, sk.coco17.index("left_wrist")] = np.nan  # half the poses miss a wrist
    a = normalize_poses(kp, sk.coco17, dataset="a")
    kp_b = coco_poses(260, seed=2)
    kp_b[:, sk.coco17.index("right_ankle")] = np.nan  # b never has its right ankle
    b = normalize_poses(kp_b, sk.coco17, dataset="b")
    t = coverage_table([a, b], max_per_set=150, seed=3)
    da, db = t["datasets"]
    assert (da["n"], da["n_used"], db["n"], db["n_used"]) == (400, 150, 260, 150)
    assert db["per_joint_variance"]["right_ankle"] is None and da["per_joint_variance"]["left_wrist"] > 0
    p = pair(t, "a", "b")
    assert p["n_a"] == p["n_b"] == p["n_separability"] == 150
    assert p["coverage"] > 0.9 and 0.3 < p["separability"] < 0.7  # drawn alike; missing joints do not separate
    json.dumps(t, allow_nan=False)
    assert coverage_table([a, b], max_per_set=150, seed=3) == t  # seeded: reproducible


def test_bad_input():
    ok = cloud(20, name="ok")
    with pytest.raises(ValueError, match="'tiny' has 5 poses; needs at least 6"):
        coverage_table([ok, cloud(5, name="tiny")], k=5)
    with pytest.raises(ValueError, match="'ok' and 'h36m'.*same space"):
        coverage_table([ok, cloud(20, dim=3, name="h36m")])
    with pytest.raises(ValueError, match="unique.*'ok'"):
        coverage_table([ok, cloud(20, name="ok")])
    with pytest.raises(ValueError, match="no pose sets"):
        coverage_table([])
    with pytest.raises(TypeError, match="PoseSet"):
        coverage_table([ok, "coco"])


def _rows(md, header):
    """Table rows (lists of cells) following a Markdown header."""
    block = md.split(header, 1)[1].split("###", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def test_markdown(table):
    md = format_coverage_markdown(table)
    cov = _rows(md, "### Coverage")
    assert cov[0] == ["A \\ B", "same1", "same2", "far", "narrow"] and len(cov) == 5
    narrow = dict(zip(cov[0][1:], cov[4][1:], strict=True))
    assert cov[4][0] == "**narrow**" and narrow["narrow"] == "-"
    assert float(narrow["same1"]) == pytest.approx(100 * pair(table, "narrow", "same1")["coverage"], abs=0.05)
    assert narrow["far"] == "0.0"
    sep = _rows(md, "### Separability")
    assert len(sep) == 5 and float(sep[3][1]) > 98  # far vs same1
    assert all(sep[i][j] == sep[j][i] for i in range(1, 5) for j in range(1, 5))
    dist = _rows(md, "### Median nearest-neighbour")
    assert float(dist[1][1]) == pytest.approx(pair(table, "same2", "same1")["reference_quantiles"]["0.5"], abs=1e-3)
    var = _rows(md, "### Per-joint variance")
    assert var[0] == ["joint", "same1", "same2", "far", "narrow"]
    assert [r[0] for r in var[1:13]] == list(BODY12)
    assert "50 % = indistinguishable" in md and re.search(r"95th percentile of B's own", md)
    assert "| narrow | 300 | 300 | 0 | 300 |" in md
