"""Corruption robustness runs (posekit.generalization.robustness, ``posekit robustness``) with the offline BlazePose
on real LSP test images: the corruption reaches the model, cells resume without recomputing, settings that changed
are refused, the summary's mPC / rPC are what the cells say, and bad requests fail before any model is built."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posekit.eval.predict import predict_to_file, read_predictions
from posekit.generalization.corruptions import corrupt
from posekit.generalization.robustness import (
    CLEAN, cell_metrics, image_seed, run_robustness, summarize,
)
from posekit.io.image import load_image
from posekit.models.mediapipe_wheel import POSE_DETECTION, POSE_LANDMARK_FULL, load_mediapipe_module
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def lsp() -> Path:
    return shared_path("data", "lsp")


@pytest.fixture(scope="module")
def blazepose():
    load_mediapipe_module(POSE_LANDMARK_FULL)
    load_mediapipe_module(POSE_DETECTION)
    from posekit.eval import build_estimator

    return build_estimator("blazepose_full")[0]


def _cell(name: str, severity: int, value: float) -> dict:
    return {"corruption": name, "severity": severity, "metrics": {"pck_bbox": value}}


def test_summary_mpc_and_rpc_from_constructed_cells():
    cells = [_cell(CLEAN, 0, 0.8), _cell("fog", 1, 0.6), _cell("fog", 2, 0.4), _cell("pixelate", 1, 0.8),
             _cell("pixelate", 2, 0.2)]
    s = summarize(cells)["pck_bbox"]
    assert s["clean"] == 0.8 and s["cells"] == 4
    assert s["corruptions"]["fog"]["by_severity"] == {"1": 0.6, "2": 0.4}
    assert s["corruptions"]["fog"]["mean"] == pytest.approx(0.5)
    assert s["corruptions"]["fog"]["relative"] == pytest.approx(0.625)
    assert s["mPC"] == pytest.approx(0.5) and s["rPC"] == pytest.approx(0.625)
    with pytest.raises(ValueError, match="exactly one clean cell"):
        summarize(cells[1:])


def test_cell_metrics_picks_the_headline_numbers():
    metrics = {"pck_bbox": {"mean": 0.9}, "pck_torso": {"mean": None}, "mpii_pckh": {"PCKh": 87.5},
               "coco": {"stats": {"AP": 0.61, "AR": 0.7}}}
    assert cell_metrics(metrics) == {"pck_bbox": 0.9, "pckh": 0.875, "coco_ap": 0.61}
    assert cell_metrics({"coco": {"stats": {"AP": -1.0}}}) == {}  # pycocotools' "no GT" sentinel


def test_image_seed_depends_on_seed_and_file_name_only():
    assert image_seed(0, "/a/im1001.jpg") == image_seed(0, "/b/im1001.jpg")
    assert image_seed(0, "im1001.jpg") != image_seed(1, "im1001.jpg")
    assert image_seed(0, "im1001.jpg") != image_seed(0, "im1002.jpg")


def test_bad_requests_fail_before_the_model_is_built(tmp_path, lsp):
    with pytest.raises(ValueError, match="unknown corruption 'fogg'.*did you mean 'fog'"):
        run_robustness(model="no_such_model", dataset="lsp", ann=lsp, out=tmp_path, corruptions=["fogg"])
    with pytest.raises(ValueError, match="severities must be distinct integers in 1..5"):
        run_robustness(model="no_such_model", dataset="lsp", ann=lsp, out=tmp_path, severities=[0, 6])
    with pytest.raises(ValueError, match="listed twice"):
        run_robustness(model="no_such_model", dataset="lsp", ann=lsp, out=tmp_path, corruptions=["fog", "fog"])
    coco = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    with pytest.raises(ValueError, match="name image files that do not exist.*--images"):  # as posekit eval
        run_robustness(model="no_such_model", dataset="coco", ann=coco, images=tmp_path, out=tmp_path)


def test_transform_reaches_the_model_and_resume_refuses_another(tmp_path, lsp, blazepose):
    from posekit.eval.dataset import load_eval_set

    eval_set = load_eval_set("lsp", ann=lsp, limit=2)
    seen = []

    def black(rgb, path, boxes):
        seen.append((Path(path).name, boxes.shape))
        return np.zeros_like(rgb)

    preds = tmp_path / "p.jsonl"
    predict_to_file(blazepose, eval_set, preds, model="bp", transform=black, transform_id="black", progress=False)
    header, records, _ = read_predictions(preds)
    assert header["transform"] == "black"
    assert seen == [("im1001.jpg", (1, 4)), ("im1002.jpg", (1, 4))]
    # a black image has no person in it: the presence gate drops every box
    assert all(r["instances"] == [] and r["transform_seconds"] >= 0 for r in records)
    with pytest.raises(ValueError, match="other settings.*transform"):
        predict_to_file(blazepose, eval_set, preds, model="bp", transform=black, transform_id="white",
                        resume=True, progress=False)
    with pytest.raises(ValueError, match="go together"):
        predict_to_file(blazepose, eval_set, preds, model="bp", transform=black, progress=False)


def test_run_is_deterministic_resumes_and_degrades(tmp_path, lsp, blazepose):
    kw = dict(model="blazepose_full", dataset="lsp", ann=lsp, corruptions=["gaussian_noise"], severities=[5],
              limit=3, batch_size=2, progress=False)
    report = run_robustness(out=tmp_path / "a", **kw)
    assert [(c["corruption"], c["severity"]) for c in report["cells"]] == [(CLEAN, 0), ("gaussian_noise", 5)]
    clean, noisy = report["cells"]
    assert clean["images_predicted_now"] == 3 and noisy["corruption_seconds_per_image"] > 0
    s = report["summary"]["pck_torso"]
    assert s["corruptions"]["gaussian_noise"]["mean"] < s["clean"]  # severity-5 noise costs accuracy
    assert (tmp_path / "a" / "robustness.png").stat().st_size > 10_000
    on_disk = json.loads((tmp_path / "a" / "robustness.json").read_text())
    assert on_disk["summary"] == report["summary"]

    # the model saw exactly corrupt(image, seed=image_seed(0, file)): rerun that image by hand
    rec = read_predictions(tmp_path / "a" / "cells" / "gaussian_noise-s5" / "predictions.jsonl")[1][0]
    image = load_image(rec["image"])
    noisy_image = corrupt(image, "gaussian_noise", 5, seed=image_seed(0, rec["image"]))
    mine = blazepose.predict_batch([noisy_image], boxes=[np.asarray([rec["instances"][0]["box"]], np.float32)])[0]
    got = np.array(rec["instances"][0]["keypoints"], dtype=np.float64)
    np.testing.assert_allclose(mine.keypoints[0], got, atol=1e-3)

    again = run_robustness(out=tmp_path / "a", **kw)  # resumed: nothing predicted again, same numbers
    assert [c["images_predicted_now"] for c in again["cells"]] == [0, 0]
    assert [c["images_resumed"] for c in again["cells"]] == [3, 3]
    assert again["summary"] == report["summary"]


def test_cli_runs_prints_the_table_and_refuses_unknown_names(tmp_path, lsp, blazepose):
    from posekit.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["robustness", "--ann", str(lsp), "--corruptions", "occluder", "--severities", "3",
                              "--limit", "2", "--out", str(tmp_path / "r"), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "| occluder |" in res.output and "mPC" in res.output and "rPC" in res.output
    assert (tmp_path / "r" / "cells" / "occluder-s3" / "predictions.jsonl").is_file()
    res = runner.invoke(app, ["robustness", "--ann", str(lsp), "--corruptions", "snow", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown corruption 'snow'" in res.output
    res = runner.invoke(app, ["robustness", "--ann", str(lsp), "--severities", "1,x", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "--severities must be comma-separated integers" in res.output


def test_coco_subset_gives_ap_cells(tmp_path, blazepose):
    ann = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    images = shared_path("data", "coco", "train2017_subset")
    report = run_robustness(model="blazepose_full", dataset="coco", ann=ann, images=images, out=tmp_path,
                            corruptions=["contrast"], severities=[5], limit=2, progress=False)
    s = report["summary"]["coco_ap"]
    assert 0.0 <= s["corruptions"]["contrast"]["mean"] <= 1.0 and 0.0 < s["clean"] <= 1.0
    assert report["cells"][1]["counts"]["images_evaluated"] == 2
    assert (tmp_path / "cells" / "contrast-s5" / "results.json").is_file()
