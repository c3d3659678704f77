"""OOD scores of posekit results (score_poses), error vs score binning, and the ``posekit ood`` command."""

import csv
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from posekit import skeletons as sk
from posekit.cli_ood import ood, read_results
from posekit.generalization.coverage import OODScorer
from posekit.generalization.ood import (
    NormalizeOptions,
    OODModel,
    error_by_score,
    fit_ood,
    score_poses,
)
from posekit.types import FrameResult, Poses
from tests.conftest import shared_path
from tests.generalization.test_posespace import coco_poses

C = {n: i for i, n in enumerate(sk.coco17.keypoints)}


def scrambled(kp):
    """Limbs scrambled: wrists <-> ankles, elbows <-> knees (arms where the legs are and back)."""
    out = np.array(kp, dtype=np.float64)
    for a, b in (("left_wrist", "left_ankle"), ("right_wrist", "right_ankle"),
                 ("left_elbow", "left_knee"), ("right_elbow", "right_knee")):
        out[..., [C[a], C[b]], :] = out[..., [C[b], C[a]], :]
    return out


def poses(kp, scores=None, track_ids=None, skeleton=sk.coco17):
    kp = np.asarray(kp, np.float64)
    sc = np.ones(kp.shape[:2]) if scores is None else scores
    return Poses(kp, sc, np.zeros((len(kp), 4)), skeleton, track_ids=track_ids)


@pytest.fixture(scope="module")
def model():
    return fit_ood(NormalizeOptions().normalize(coco_poses(300, seed=1), sk.coco17, dataset="ref"), k=5)


def test_reference_like_pose_low_scrambled_pose_flagged(model):
    kp = coco_poses(40, seed=7)  # drawn like the reference
    weird = scrambled(coco_poses(5, seed=8))
    res = score_poses(model, poses(np.concatenate([kp, weird])))
    assert res.scores.shape == (45,) and res.scores.dtype == np.float64
    assert np.mean(res.scores[:40] < 1.0) >= 0.85
    assert np.all(res.scores[40:] > 2.0) and res.flagged[40:].all()
    assert res.flagged.sum() < 40 * 0.15 + 5
    np.testing.assert_array_equal(res.flagged, res.scores > 1.0)
    np.testing.assert_array_equal(res.frame, 0)
    np.testing.assert_array_equal(res.instance, np.arange(45))
    np.testing.assert_array_equal(res.track_id, -1)
    # a scaled, shifted copy of the same poses gets the same scores (normalisation), the input is not modified
    moved = np.concatenate([kp, weird]) * 2.0 + 100.0
    before = moved.copy()
    np.testing.assert_allclose(score_poses(model, poses(moved)).scores, res.scores, rtol=1e-5)  # Poses hold float32
    np.testing.assert_array_equal(moved, before)
    # a bare OODScorer with explicit options gives the same scores; threshold moves the flags
    bare = score_poses(model.scorer, poses(kp), options=NormalizeOptions(), threshold=0.5)
    np.testing.assert_allclose(bare.scores, res.scores[:40])
    np.testing.assert_array_equal(bare.flagged, bare.scores > 0.5)


def test_missing_low_score_and_nan_keypoints(model):
    kp = coco_poses(4, seed=3)
    sc = np.ones((4, 17))
    sc[0, [C["left_hip"]]] = 0.1            # hip below score_threshold -> no root -> NaN
    kp[1, [C["left_shoulder"], C["right_shoulder"]]] = np.nan  # no torso -> NaN
    sc[2, [C[n] for n in ("left_wrist", "right_wrist", "left_elbow", "right_elbow", "left_knee", "right_knee",
                          "left_ankle")]] = 0.0   # 5 of 12 limb joints left -> too few -> NaN
    sc[3, C["left_wrist"]] = 0.2             # one joint missing: still scored
    res = score_poses(model, poses(kp, sc))
    assert np.isnan(res.scores[:3]).all() and not res.flagged[:3].any()
    assert np.isfinite(res.scores[3])
    # with score_threshold 0 the low-score hip of pose 0 counts again
    assert np.isfinite(score_poses(model, poses(kp, sc), score_threshold=0.0).scores[0])
    # a missing joint is not scored as a far-away one: pose 3 scores like its complete self
    full = score_poses(model, poses(kp[3:], np.ones((1, 17)))).scores[0]
    assert abs(res.scores[3] - full) < 0.5


def test_frames_and_track_ids_carried(model):
    kp = coco_poses(5, seed=11)
    frames = [FrameResult(10, poses(kp[:2], track_ids=[4, 7])), FrameResult(11, poses(kp[:0])),
              FrameResult(12, poses(kp[2:], track_ids=[7, 4, 9]))]
    res = score_poses(model, frames)
    np.testing.assert_array_equal(res.frame, [10, 10, 12, 12, 12])
    np.testing.assert_array_equal(res.instance, [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(res.track_id, [4, 7, 7, 4, 9])
    np.testing.assert_allclose(res.scores, score_poses(model, poses(kp)).scores)
    # a list of Poses: frame = list position; (frame, time_s, Poses) tuples as read_results_jsonl returns them
    res2 = score_poses(model, [poses(kp[:2]), poses(kp[2:])])
    np.testing.assert_array_equal(res2.frame, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(res2.track_id, -1)
    res3 = score_poses(model, [(5, 0.2, poses(kp[:2])), (9, None, poses(kp[2:]))])
    np.testing.assert_array_equal(res3.frame, [5, 5, 9, 9, 9])
    assert len(score_poses(model, [])) == 0


def test_other_skeleton_results_are_mapped_or_refused(model):
    kp = coco_poses(3, seed=5)
    bp = np.zeros((3, 33, 2))
    bp[:, [sk.blazepose33.index(n) for n in sk.coco17.keypoints]] = kp
    res_bp = score_poses(model, poses(bp, skeleton=sk.blazepose33))
    np.testing.assert_allclose(res_bp.scores, score_poses(model, poses(kp)).scores)
    with pytest.raises(ValueError, match="hand21.*coco17"):
        score_poses(model, poses(np.zeros((1, 21, 2)), skeleton=sk.hand21))
    with pytest.raises(ValueError, match="carries"):
        score_poses(model, poses(kp), scale="bones")
    with pytest.raises(TypeError, match="OODModel or OODScorer"):
        score_poses("model", poses(kp))
    with pytest.raises(TypeError, match="poses"):
        score_poses(model, "x.jsonl")


def test_fit_ood_pools_references_and_checks_options():
    opts = NormalizeOptions()
    a = opts.normalize(coco_poses(50, seed=1), sk.coco17, dataset="a")
    b = opts.normalize(coco_poses(60, seed=2), sk.coco17, dataset="b")
    m = fit_ood([a, b], options=opts, k=3)
    assert isinstance(m, OODModel) and isinstance(m.scorer, OODScorer)
    assert len(m.scorer.reference) == 110 and m.label == "a+b" and m.scorer.k == 3
    other = NormalizeOptions(joints=("nose",) + sk.coco17.keypoints[5:])
    with pytest.raises(ValueError, match="options ask for"):
        fit_ood(a, options=other)
    with pytest.raises(ValueError, match="no reference"):
        fit_ood([])


def test_error_by_score_monotone_relations_and_bins():
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 3, 200)
    up = error_by_score(s, 2 * s + 1, bins=5)
    assert up["spearman_rho"] == pytest.approx(1.0) and up["spearman_p"] < 1e-10
    assert up["n"] == 200 and up["n_dropped"] == 0
    assert [b["n"] for b in up["bins"]] == [40] * 5
    means = [b["error_mean"] for b in up["bins"]]
    assert means == sorted(means)
    for lo, hi in zip(up["bins"], up["bins"][1:]):
        assert lo["score_max"] <= hi["score_min"]
    down = error_by_score(s, np.exp(-s), bins=4)
    assert down["spearman_rho"] == pytest.approx(-1.0) and len(down["bins"]) == 4
    assert [b["error_mean"] for b in down["bins"]] == sorted((b["error_mean"] for b in down["bins"]), reverse=True)
    # independent noise: rho near 0; NaN pairs dropped; JSON-able
    s2, e2 = s.copy(), rng.uniform(0, 1, 200)
    s2[:10] = np.nan
    e2[10:15] = np.nan
    noise = error_by_score(s2, e2, bins=3)
    assert abs(noise["spearman_rho"]) < 0.2 and noise["n"] == 185 and noise["n_dropped"] == 15
    assert sum(b["n"] for b in noise["bins"]) == 185
    json.dumps(noise, allow_nan=False)
    few = error_by_score([1.0, 2.0], [0.5, 0.1])
    assert few["spearman_rho"] is None and few["n"] == 2 and len(few["bins"]) == 2
    with pytest.raises(ValueError, match="same length"):
        error_by_score([1.0, 2.0], [1.0])


def test_lsp_train_reference_on_real_lsp_test_poses():
    from posekit.data import load_lsp

    root = shared_path("data", "lsp")
    train, _ = load_lsp(root, indices=range(1000))
    test, _ = load_lsp(root)
    opts = NormalizeOptions()
    model = fit_ood(opts.normalize(np.stack([s.keypoints for s in train]), sk.lsp14, dataset="lsp_train"))
    kp = np.stack([s.keypoints for s in test]).astype(np.float64)
    res = score_poses(model, poses(kp, np.isfinite(kp[..., 0]).astype(float), skeleton=sk.lsp14))
    assert np.isfinite(res.scores).all()
    assert 0.02 < res.flagged.mean() < 0.12  # test poses drawn like the training poses: ~5 % above the 95th pct
    L = {n: i for i, n in enumerate(sk.lsp14.keypoints)}
    swapped = kp.copy()  # wrists <-> ankles: arms where the legs are
    for a, b in (("left_wrist", "left_ankle"), ("right_wrist", "right_ankle")):
        swapped[:, [L[a], L[b]]] = swapped[:, [L[b], L[a]]]
    res2 = score_poses(model, poses(swapped, skeleton=sk.lsp14))
    assert res2.flagged.mean() > 0.9 and np.median(res2.scores) > 2 * np.median(res.scores)


# ---- the CLI ------------------------------------------------------------------------------------------------------

def coco_file(path, kp):
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
             "bbox": [0, 0, 100, 100], "keypoints": np.concatenate([p, np.full((17, 1), 2.0)], 1).ravel().tolist()}
            for i, p in enumerate(kp)]
    path.write_text(json.dumps({
        "images": [{"id": i + 1, "file_name": f"{i}.jpg"} for i in range(len(kp))],
        "categories": [{"id": 1, "name": "person", "keypoints": list(sk.coco17.keypoints), "skeleton": []}],
        "annotations": anns}))
    return path


def jsonl_file(path, frames):
    path.write_text("".join(FrameResult(i, p).to_json() + "\n" for i, p in frames))
    return path


@pytest.fixture()
def app():
    a = typer.Typer()
    a.command()(ood)
    return a


def test_cli_scores_jsonl_and_writes_csv(tmp_path, app):
    ref = coco_file(tmp_path / "ref.json", coco_poses(60, seed=1))
    kp = coco_poses(3, seed=21)
    weird = scrambled(coco_poses(1, seed=22))
    frames = [(0, poses(kp[:2], track_ids=[1, 2])), (3, poses(np.concatenate([kp[2:], weird]), track_ids=[1, 5]))]
    res = jsonl_file(tmp_path / "video.jsonl", frames)
    out = tmp_path / "o" / "scores.csv"
    r = CliRunner().invoke(app, [str(res), "--reference", f"COCO={ref}", "--out", str(out), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert "frame 3 track 5: score" in r.output and "unlike anything in COCO" in r.output
    assert "4 instance(s) in 2 frame(s)" in r.output
    rows = list(csv.DictReader(out.open()))
    assert [(int(x["frame"]), int(x["instance"]), int(x["track_id"])) for x in rows] == [
        (0, 0, 1), (0, 1, 2), (3, 0, 1), (3, 1, 5)]
    assert rows[3]["flagged"] == "1" and float(rows[3]["score"]) > 2.0
    # the same as the API
    model = fit_ood(NormalizeOptions().normalize(coco_poses(60, seed=1), sk.coco17, dataset="COCO"), k=3)
    api = score_poses(model, read_results(res)[0])
    np.testing.assert_allclose([float(x["score"]) for x in rows], api.scores, rtol=1e-3)


def test_cli_predict_results_json(tmp_path, app):
    ref = coco_file(tmp_path / "ref.json", coco_poses(60, seed=1))
    recs = []
    for image_id, p in ((7, poses(coco_poses(2, seed=3))), (9, poses(scrambled(coco_poses(1, seed=4))))):
        recs += p.to_coco(image_id)
    res = tmp_path / "results.json"
    res.write_text(json.dumps(recs))
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(app, [str(res), "-r", f"ref={ref}", "--out", str(out), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert "frame 9 instance 0: score" in r.output
    rows = list(csv.DictReader(out.open()))
    assert [(x["frame"], x["instance"], x["track_id"], x["flagged"]) for x in rows] == [
        ("7", "0", "-1", "0"), ("7", "1", "-1", "0"), ("9", "0", "-1", "1")]


def test_cli_bad_inputs(tmp_path, app):
    ref = coco_file(tmp_path / "ref.json", coco_poses(60, seed=1))
    hand = jsonl_file(tmp_path / "hand.jsonl", [(0, poses(np.full((1, 21, 2), 5.0), skeleton=sk.hand21))])
    r = CliRunner().invoke(app, [str(hand), "--reference", f"coco={ref}"])
    assert r.exit_code == 2 and "hand21" in r.output and "coco17" in r.output
    body = jsonl_file(tmp_path / "body.jsonl", [(0, poses(coco_poses(1)))])
    r = CliRunner().invoke(app, [str(body), "--reference", str(ref)])
    assert r.exit_code == 2 and "NAME=PATH" in r.output
    r = CliRunner().invoke(app, [str(body), "--reference", f"coco={tmp_path / 'nope.json'}"])
    assert r.exit_code == 2 and "nope.json" in r.output
    r = CliRunner().invoke(app, [str(tmp_path / "none.jsonl"), "--reference", f"coco={ref}"])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = CliRunner().invoke(app, [str(body), "--reference", f"a={ref}", "--reference", f"a={ref}"])
    assert r.exit_code == 2 and "must differ" in r.output


def test_cli_lsp_reference(tmp_path, app):
    lsp = shared_path("data", "lsp")
    res = jsonl_file(tmp_path / "v.jsonl", [(0, poses(coco_poses(2, seed=3))),
                                            (1, poses(scrambled(coco_poses(1, seed=4))))])
    r = CliRunner().invoke(app, [str(res), "--reference", f"LSP=lsp:{lsp}", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    assert "frame 1 instance 0: score" in r.output and "unlike anything in LSP" in r.output
    assert "2000 reference poses" in r.output
