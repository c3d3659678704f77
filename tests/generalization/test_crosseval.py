"""The cross-dataset table: a tiny real run (one model, 3 LSP images, a failing and an n/a column), the Markdown
formatting from known numbers, the default columns, model-name checks and the CLI verb."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from posekit.generalization.crosseval import (
    SCHEMA,
    CrossDataset,
    check_models,
    default_datasets,
    format_markdown,
    offline_body_models,
    run_crosseval,
)
from tests.conftest import shared_path

MODEL = "movenet_lightning"  # the fastest offline body model (GT boxes)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    lsp = shared_path("data", "lsp")
    out = tmp_path_factory.mktemp("crosseval")
    lspet = next(d for d in default_datasets(lsp.parent) if d.name == "lspet")  # 2000 of its 10000 images here
    columns = (
        CrossDataset("lsp", "LSP test", "lsp", lsp, metric="pck"),
        lspet,
        CrossDataset("broken", "Broken COCO", "coco", out / "no_such.json", out, metric="ap"),
        CrossDataset("mpii", "MPII", None, None, na="no images", note="no images here"),
    )
    return run_crosseval([MODEL], columns, out=out, limit=3, progress=False), out


def test_tiny_run_values_come_from_the_runner_reports(tiny):
    table, out = tiny
    assert table["schema"] == SCHEMA and table["models"] == [MODEL] and table["limit"] == 3
    assert [d["name"] for d in table["datasets"]] == ["lsp", "lspet", "broken", "mpii"]
    assert [(c["model"], c["dataset"]) for c in table["cells"]] == [(MODEL, "lsp"), (MODEL, "lspet"),
                                                                    (MODEL, "broken"), (MODEL, "mpii")]
    lsp, lspet, broken, mpii = table["cells"]
    report = json.loads((out / f"{MODEL}-lsp" / "report.json").read_text())
    assert lsp["boxes"] == "gt" and report["boxes"] == "gt" and report["limit"] == 3
    assert lsp["values"] == {"pck_bbox": report["metrics"]["pck_bbox"]["mean"],
                             "pck_torso": report["metrics"]["pck_torso"]["mean"]}
    assert 0.5 < lsp["values"]["pck_bbox"] <= 1.0 and 0.0 < lsp["values"]["pck_torso"] <= 1.0
    assert lsp["images"] == 3 and lsp["persons"] == 3 and lsp["seconds_per_image"] > 0
    # LSPET: the runner accepts the 8000 records without images (max_missing 0.8) and scores the first 3
    assert "error" not in lspet and lspet["images"] == 3 and 0.0 < lspet["values"]["pck_bbox"] <= 1.0
    # the failing column records the runner's error and the run went on to the next column
    assert "error" in broken and "FileNotFoundError" in broken["error"] and "no_such.json" in broken["error"]
    assert broken["values"] == {"AP": None}
    assert mpii["na"] == "no images" and "error" not in mpii
    json.dumps(table, allow_nan=False)  # JSON-able as written


def test_tiny_run_resumes_without_predicting_again(tiny):
    table, out = tiny
    lsp = shared_path("data", "lsp")
    again = run_crosseval([MODEL], [CrossDataset("lsp", "LSP test", "lsp", lsp)], out=out, limit=3, progress=False)
    report = json.loads((out / f"{MODEL}-lsp" / "report.json").read_text())
    assert report["timing"]["images_resumed"] == 3 and report["timing"]["images_predicted_now"] == 0
    assert again["cells"][0]["values"] == table["cells"][0]["values"]


def test_markdown_of_known_numbers(tiny):
    table = {
        "schema": SCHEMA, "models": ["blazepose_full", "posenet"], "limit": None,
        "datasets": [{"name": "lsp", "title": "LSP test", "metric": "pck", "note": "LSP note"},
                     {"name": "coco", "title": "COCO", "metric": "ap", "note": ""},
                     {"name": "mpii", "title": "MPII", "metric": "pck", "note": "no images here"},
                     {"name": "mpii2", "title": "MPII val", "metric": "pckh", "note": ""}],
        "cells": [
            {"model": "blazepose_full", "dataset": "lsp", "metric": "pck", "boxes": "gt",
             "values": {"pck_bbox": 0.8874, "pck_torso": 0.7726}, "persons": 1000, "persons_without_prediction": 41,
             "seconds_per_image": 0.1478},
            {"model": "blazepose_full", "dataset": "coco", "metric": "ap", "boxes": "gt", "values": {"AP": 0.17257}},
            {"model": "blazepose_full", "dataset": "mpii", "metric": "pck", "boxes": "gt", "values": {},
             "na": "no images"},
            {"model": "posenet", "dataset": "lsp", "metric": "pck", "boxes": "detector",
             "values": {"pck_bbox": 0.5, "pck_torso": None}},
            {"model": "posenet", "dataset": "coco", "metric": "ap", "boxes": "detector", "values": {"AP": None},
             "error": "ValueError: boom"},
            {"model": "posenet", "dataset": "mpii", "metric": "pck", "boxes": "detector", "values": {},
             "na": "no images"},
            {"model": "blazepose_full", "dataset": "mpii2", "metric": "pckh", "boxes": "gt",
             "values": {"PCKh": 0.8751}},
        ],
    }
    md = format_markdown(table)
    lines = md.splitlines()
    assert lines[0] == ("| model | boxes | LSP test<br>PCK@0.2 bbox / torso | COCO<br>COCO AP | "
                        "MPII<br>PCK@0.2 bbox / torso | MPII val<br>PCKh@0.5 |")
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == "| `blazepose_full` | GT | 88.7 / 77.3 | 17.3 | n/a (no images) | 87.5 |"
    assert lines[3] == "| `posenet` | own | 50.0 / - | error (1) | n/a (no images) | - |"
    assert "* (1) posenet on coco: ValueError: boom" in lines
    assert "| `blazepose_full` | 41 / 1000, 0.15 s | - | - | - |" in lines  # the persons-without-prediction table
    assert "* LSP test: LSP note." in lines and "* MPII: no images here." in lines
    assert "limit" not in md
    assert "Only the first 3 images" in format_markdown(tiny[0])


def test_default_datasets_here_and_absent(tmp_path: Path):
    data = shared_path("data")
    cols = {d.name: d for d in default_datasets(data)}
    assert list(cols) == ["lsp", "lspet", "coco_subset", "coco_openpose", "posetrack18", "mpii"]
    assert [cols[n].kind for n in cols] == ["lsp", "lspet", "coco", "coco", "posetrack18", None]
    assert [cols[n].metric for n in cols] == ["pck", "pck", "ap", "ap", "ap", "pckh"]
    assert cols["mpii"].na == "no images" and cols["lspet"].max_missing >= 0.8
    absent = default_datasets(tmp_path)  # nothing there: every column n/a, naming what is missing
    assert all(d.kind is None for d in absent)
    lsp = next(d for d in absent if d.name == "lsp")
    assert lsp.na == "absent" and str(tmp_path / "lsp") in lsp.note


def test_model_names_are_checked():
    offline = offline_body_models()
    assert {"blazepose_full", "blazepose_lite", "blazepose_heavy", "movenet_thunder", "movenet_lightning",
            "movenet_multipose", "posenet"} == set(offline)
    assert check_models(["posenet", MODEL]) == ("posenet", MODEL)
    with pytest.raises(ValueError, match="movenet_thundr.*movenet_thunder"):
        check_models(["movenet_thundr"])
    with pytest.raises(ValueError, match="hand model"):
        check_models(["mediapipe_hand_full"])
    with pytest.raises(ValueError, match="twice"):
        check_models(["posenet", "posenet"])
    with pytest.raises(ValueError, match="kind must be one of"):
        CrossDataset("x", "X", "h36m", Path("a"))


def test_cli_verb(tmp_path: Path):
    from posekit.cli_crosseval import crosseval

    data = shared_path("data")
    app = typer.Typer()
    app.command()(crosseval)
    runner = CliRunner()
    bad = runner.invoke(app, ["--models", "nope_model", "--shared", str(data), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--models" in bad.output and "nope_model" in bad.output
    bad = runner.invoke(app, ["--datasets", "lsp,nope", "--shared", str(data), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown nope" in bad.output
    ok = runner.invoke(app, ["--models", MODEL, "--datasets", "lsp,mpii", "--shared", str(data), "--limit", "2",
                             "--out", str(tmp_path), "--no-progress", "--threads", "1"])
    assert ok.exit_code == 0, ok.output
    table = json.loads((tmp_path / "crosseval.json").read_text())
    assert [c["dataset"] for c in table["cells"]] == ["lsp", "mpii"] and table["cells"][0]["images"] == 2
    md = (tmp_path / "crosseval.md").read_text()
    assert md in ok.output and f"| `{MODEL}` | GT |" in md and "n/a (no images)" in md
