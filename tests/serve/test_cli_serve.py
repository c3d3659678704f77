"""``posekit serve`` argument checks through a local Typer app (no server is started: every case exits before)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from posekit.cli_serve import serve

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")

app = typer.Typer()
app.command()(serve)


def test_unknown_model_exits_2_with_a_message():
    result = CliRunner().invoke(app, ["--model", "no_such_model"])
    assert result.exit_code == 2
    assert "posekit: error:" in result.output and "no_such_model" in result.output


def test_bad_limits_are_refused_by_typer():
    result = CliRunner().invoke(app, ["--max-queue", "-1"])
    assert result.exit_code == 2 and "max-queue" in result.output


def test_help_names_the_options_and_env():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--api-key", "POSEKIT_API_KEY", "--max-upload-mb", "--max-pixels", "--max-queue",
                   "--concurrency", "--timeout-s", "--cors-origin", "--workers"):
        assert option in result.output
