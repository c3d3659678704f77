"""Building blocks shared by the ``posekit`` commands: the inference-engine options of ``predict`` and ``video``
(Typer option types and one function that builds the estimator from them; errors become ``posekit: error: ...``
with exit code 2) and the image-list helpers of ``predict``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from posekit.runtime.runner import BACKENDS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}

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


def fail(message: str, code: int = 2) -> None:
    """Print ``posekit: error: message`` on stderr and exit with ``code``."""
    typer.echo(f"posekit: error: {message}", err=True)
    raise typer.Exit(code)


def build_estimator(model: str, *, device: str = "cpu", backend: str = "torch", precision: str = "fp32",
                    compile: bool = False, batch_size: int | None = None, weights: Path | None = None,
                    **options: Any) -> Any:
    """The registry's estimator (:func:`posekit.pipelines.registry.build_estimator`) from the command's options;
    bad values and load failures exit with a message naming the option."""
    from posekit.pipelines.registry import build_estimator as build, estimator_entry  # imports torch: not at start-up
    from posekit.runtime.torch_runner import PRECISIONS

    if backend not in BACKENDS:
        fail(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if precision not in PRECISIONS:
        fail(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    try:
        entry = estimator_entry(model)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except ValueError as exc:
        fail(str(exc))
    if weights is not None:
        if not entry.capabilities.takes_weights:
            fail(f"--weights: model {model} does not take weights (its weights are built in)")
        if not Path(weights).is_file():
            fail(f"--weights {weights}: no such file")
    engine = {"precision": precision, "compile": compile, "batch_size": batch_size}
    engine = {k: v for k, v in engine.items() if v != {"precision": "fp32", "compile": False, "batch_size": None}[k]}
    try:
        return build(model, device=device, backend=backend, weights=weights, **engine, **options)
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as exc:  # RuntimeError: download/checksum
        fail(f"{model}: {exc}")
    raise AssertionError("unreachable")


def detection_options(model: str, boxes_given: bool, tiles: int | None, min_detection_score: float | None
                      ) -> dict[str, Any]:
    """``posekit predict``'s detector options for :func:`build_estimator`, from the registry's data: without caller
    boxes a model uses its :class:`~posekit.pipelines.registry.PredictDefaults` (find every person: BlazePose
    ``tiles=2, min_detection_score=0.3``) unless the option is given; ``--tiles`` is refused for models without
    the capability. Only options that differ from the builder's defaults are returned."""
    from posekit.pipelines.registry import PredictDefaults, estimator_entries, estimator_entry

    try:
        entry = estimator_entry(model)
    except (KeyError, ValueError):
        return {}  # build_estimator reports the name
    if tiles not in (None, 1) and not entry.capabilities.tiles:
        tiled = ", ".join(e.name for e in estimator_entries() if e.capabilities.tiles)
        fail(f"--tiles is a BlazePose option ({tiled}), not one of {model}")
    search = PredictDefaults() if boxes_given else entry.predict_defaults
    tiles = search.tiles if tiles is None else tiles
    score = search.min_detection_score if min_detection_score is None else min_detection_score
    return {**({"tiles": tiles} if tiles != 1 else {}), **({"min_detection_score": score} if score is not None else {})}


def expand_images(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, not recursive)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def image_id(path: Path, index: int) -> int:
    """COCO image id: the number ending the file stem (``000000000192``, ``COCO_val2014_000000000192``),
    else the 1-based position."""
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else index + 1


def boxes_for(box_file, path: Path, index: int, est):  # noqa: ANN001, ANN202 (lazy imports)
    """Detections of image ``path`` in a BoxesFromFile: by file name, else by COCO image id from the stem."""
    from posekit.pipelines.topdown import TopDownEstimator

    try:
        dets = box_file[path.name]
    except KeyError:
        dets = box_file[image_id(path, index)]
    return dets if isinstance(est, TopDownEstimator) else dets.boxes
