"""``posekit bench``: posekit's backends and the installed peers, timed in one run on the same inputs.

:func:`run_bench` measures and returns a :class:`~posekit.bench.report.Report`; :func:`bench` is the Typer
command around it (prints the table, optionally writes JSON).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import fail
from posekit.bench import blazepose, topdown
from posekit.bench.inputs import TopdownInput, blazepose_input, topdown_input
from posekit.bench.peers import MEDIAPIPE, MMPOSE, RTMLIB, find_python
from posekit.bench.report import Report, format_report
from posekit.bench.rows import BACKENDS, compare, goal_results
from posekit.bench.timing import machine_info

SUITES = ("all", "topdown", "mediapipe")
#: Backends timed unless told otherwise (``compile`` adds about a minute per network on 2 cores).
DEFAULT_BACKENDS = ("eager", "bf16", "onnxruntime")


def _split(values: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """Repeated and/or comma-separated option values, in order, without duplicates."""
    if not values:
        return list(default)
    items = [v.strip() for value in values for v in str(value).split(",") if v.strip()]
    return list(dict.fromkeys(items))


def _versions() -> dict[str, str | None]:
    import torch

    try:
        import onnxruntime

        ort: str | None = onnxruntime.__version__
    except ImportError:
        ort = None
    return {"torch": torch.__version__, "onnxruntime": ort}


def _topdown_note(inp: TopdownInput, weights: str | os.PathLike[str] | None) -> str:
    h, w = inp.image.rgb.shape[:2]
    what = (f"weights {weights}" if weights is not None else
            "random weights (the time does not depend on them; with them bf16 rounding moves keypoints between "
            "near-equal maxima: large max dpx)")
    return f"{inp.image.label} ({w}x{h}), {len(inp.boxes)} person box(es): {inp.source}; {what}"


def run_bench(*, suite: str = "all", models: Sequence[str] = topdown.DEFAULT_MODELS,
              backends: Sequence[str] = DEFAULT_BACKENDS, threads: int = 2, repeats: int = 3, warmup: int = 1,
              image: str | os.PathLike[str] | None = None, weights: str | os.PathLike[str] | None = None,
              mediapipe_python: str | os.PathLike[str] | None = None,
              mmpose_python: str | os.PathLike[str] | None = None,
              rtmlib_python: str | os.PathLike[str] | None = None,
              progress: Callable[[str], None] = lambda line: None) -> Report:
    """Time posekit's ``backends`` and the peers found, suite by suite, and judge the goals.

    Args:
        suite: ``"all"``, ``"topdown"`` (``models`` against MMPose and rtmlib) or ``"mediapipe"`` (BlazePose
            against MediaPipe).
        models: top-down models (public names, or without ``_coco_256x192``).
        backends: subset of ``eager``, ``bf16``, ``compile``, ``onnxruntime``.
        threads: torch threads (set for the run, restored after), ONNX Runtime's and the peers' threads.
        repeats, warmup: timed and untimed calls per row.
        image: the input image instead of the fixtures (top-down: whole image as the box).
        weights: a checkpoint for the (single) top-down model; default random weights.
        mediapipe_python, mmpose_python, rtmlib_python: the peers' Pythons (else ``$POSEKIT_<PEER>_PYTHON``,
            else ``~/venvs/<peer>/bin/python``).
        progress: called with one line per step.

    Bad options raise ``ValueError`` (or ``KeyError`` for an unknown model); failures of a backend or peer do
    not raise: their rows say why they were skipped.
    """
    import torch

    if suite not in SUITES:
        raise ValueError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    for name, value, low in (("threads", threads, 1), ("repeats", repeats, 1), ("warmup", warmup, 0)):
        if int(value) < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    backends = list(backends)
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {backends}")
    run_topdown, run_blazepose = suite in ("all", "topdown"), suite in ("all", "mediapipe")
    model_names = topdown.resolve_models(models) if run_topdown else []
    if run_topdown and not model_names:
        raise ValueError("models is empty: name at least one top-down model")
    if weights is not None:
        if not Path(weights).is_file():
            raise ValueError(f"weights file {weights} does not exist")
        if len(model_names) != 1:
            raise ValueError(f"weights is for one top-down model; got models {model_names or '(none)'}")
    if image is not None and not Path(image).is_file():
        raise ValueError(f"image {image} does not exist")

    machine = {**machine_info(), **_versions(), "threads": int(threads)}
    settings = {"suite": suite, "models": model_names, "backends": backends, "threads": int(threads),
                "repeats": int(repeats), "warmup": int(warmup), "image": None if image is None else str(image),
                "weights": None if weights is None else str(weights)}
    opts = {"threads": int(threads), "repeats": int(repeats), "warmup": int(warmup), "progress": progress}
    rows, notes = [], {}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with tempfile.TemporaryDirectory(prefix="posekit-bench-") as tmp:
            workdir = Path(tmp)
            if run_topdown:
                inp = topdown_input(workdir, image=image)
                notes["topdown"] = _topdown_note(inp, weights)
                rows += topdown.topdown_rows(inp, models=model_names, backends=backends, workdir=workdir,
                                             mmpose=find_python(MMPOSE, mmpose_python),
                                             rtmlib=find_python(RTMLIB, rtmlib_python),
                                             weights=None if weights is None else Path(weights), **opts)
            if run_blazepose:
                inp_bp = blazepose_input(workdir, image=image)
                notes["blazepose"] = inp_bp.source or inp_bp.reason
                rows += blazepose.blazepose_rows(inp_bp, backends=backends,
                                                 mediapipe=find_python(MEDIAPIPE, mediapipe_python), **opts)
    finally:
        torch.set_num_threads(previous_threads)
    machine["load_average_after"] = machine_info()["load_average"]
    goals = (*topdown.GOALS, *blazepose.GOALS)
    compared = compare(rows, goals)
    return Report(machine, settings, notes, tuple(compared), tuple(goal_results(compared, goals)))


def bench(
    suite: Annotated[str, typer.Option(
        help="all | topdown (models vs MMPose inference_topdown and rtmlib) | mediapipe (BlazePose vs "
             "MediaPipe).")] = "all",
    models: Annotated[Optional[list[str]], typer.Option(
        "--models", "-m", help="Top-down models, comma-separated or repeated; public names or short ones "
                               "(rtmpose_m, vitpose_b, hrnet_w32). Default: rtmpose_m, vitpose_b.")] = None,
    backends: Annotated[Optional[list[str]], typer.Option(
        "--backends", "-b", help="posekit backends, comma-separated or repeated: eager, bf16, compile, "
                                 "onnxruntime. Default: eager, bf16, onnxruntime (compile adds about a minute "
                                 "per network on 2 cores).")] = None,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for torch, ONNX Runtime and the peers.")] = 2,
    repeats: Annotated[int, typer.Option(min=1, help="Timed calls per row (median and min reported).")] = 3,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls before timing each row.")] = 1,
    image: Annotated[Optional[Path], typer.Option(
        help="Time on this image instead of the ../shared fixtures (top-down: the whole image is the box).")] = None,
    weights: Annotated[Optional[Path], typer.Option(
        help="Checkpoint for a single top-down model (default random weights: speed does not depend on them).")]
    = None,
    mediapipe_python: Annotated[Optional[Path], typer.Option(
        help="Python of a venv with mediapipe==0.10.14 (else $POSEKIT_MEDIAPIPE_PYTHON, else "
             "~/venvs/mediapipe/bin/python).")] = None,
    mmpose_python: Annotated[Optional[Path], typer.Option(
        help="Python of a venv with mmpose==1.3.2 (else $POSEKIT_MMPOSE_PYTHON, else ~/venvs/mmpose/bin/python).")]
    = None,
    rtmlib_python: Annotated[Optional[Path], typer.Option(
        help="Python of a venv with rtmlib and onnxruntime (else $POSEKIT_RTMLIB_PYTHON, else "
             "~/venvs/rtmlib/bin/python).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the table as JSON here.")] = None,
) -> None:
    """Time posekit's backends side by side with the installed peers (MMPose, rtmlib, MediaPipe) on the same
    inputs in one run; print medians, ratios, goals and the hardware. Missing peers are skipped with a reason."""
    try:
        report = run_bench(suite=suite, models=_split(models, topdown.DEFAULT_MODELS),
                           backends=_split(backends, DEFAULT_BACKENDS), threads=threads, repeats=repeats,
                           warmup=warmup, image=image, weights=weights, mediapipe_python=mediapipe_python,
                           mmpose_python=mmpose_python, rtmlib_python=rtmlib_python,
                           progress=lambda line: typer.echo(f"# {line}", err=True))
    except KeyError as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    except ValueError as exc:
        fail(str(exc))
    typer.echo(format_report(report))
    if json_out is not None:
        typer.echo(f"wrote {report.write_json(json_out)}")
