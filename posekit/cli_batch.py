"""``posekit batch``: a pose model over a corpus of images and videos, into sharded Parquet, resumable, locally or on
Ray (:mod:`posekit.batch`).

pyarrow (``posekit[batch]``) and Ray (``posekit[ray]``) are imported only when the command runs, so ``posekit
--help`` works without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import (
    DEFAULT_MODEL,
    Backend,
    DetectorName,
    Device,
    detector_options,
    fail,
    model_entry,
)

__all__ = ["batch"]

MISSING_EXTRA = "posekit batch needs pyarrow: pip install 'posekit[batch]' (and 'posekit[ray]' for --engine ray)"


def batch(
    source: Annotated[str, typer.Argument(
        help="A folder (searched recursively), a glob ('data/**/*.jpg'), a manifest (.txt: one path per line; "
             ".csv/.parquet: a 'path' column) or a COCO JSON; images and videos.")],
    out: Annotated[Path, typer.Option(help="Run folder: shards/*.parquet, errors.parquet, summary.json; a rerun "
                                           "resumes the run there.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = DEFAULT_MODEL,
    engine: Annotated[Optional[str], typer.Option(
        help="local (in this process) or ray [default: ray when Ray is installed, else local].")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster address (HEAD:6379) [default: a local Ray with --num-workers CPUs].")] = None,
    num_workers: Annotated[int, typer.Option(min=1, help="Ray actors, each with its own model and one CPU "
                                                         "thread.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per model call (their person crops batched; on "
                                                        "CPU 1 is fastest for BlazePose).")] = 1,
    shard_size: Annotated[int, typer.Option(min=1, help="Images per task and per Parquet shard.")] = 64,
    root: Annotated[Optional[Path], typer.Option(
        help="Folder that relative paths of a manifest or COCO file start from [default: the file's folder].")
    ] = None,
    track: Annotated[bool, typer.Option("--track/--no-track", help="Track ids in videos (one task per video); "
                                                                   "--no-track splits videos into frame ranges "
                                                                   "that run in parallel.")] = True,
    smooth: Annotated[Optional[str], typer.Option(help="Video smoothing: one-euro or savgol (implies --track).")
                      ] = None,
    every: Annotated[int, typer.Option(min=1, help="Process every N-th video frame.")] = 1,
    video_chunk: Annotated[int, typer.Option(min=1, help="Frames per task of a video with --no-track.")] = 512,
    max_pixels: Annotated[int, typer.Option(min=1, help="Larger images (width x height) are error rows, not "
                                                        "decoded.")] = 40_000_000,
    detector: DetectorName = None,
    device: Device = "cpu",
    backend: Backend = "torch",
    threads: Annotated[int, typer.Option(
        min=1, help="Compute threads of each worker (this process, or each Ray actor, which takes as many CPUs); "
                    "part of the run, since results depend on it in their last bits.")] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar over tasks.")] = True,
) -> None:
    """Run a model over a corpus: one row per person per image or video frame in sharded Parquet, with an errors
    table and a summary. Rerunning the same command resumes (finished tasks are skipped, their shards unchanged);
    another model or option needs another --out."""
    try:
        from posekit.batch.engine import ENGINES, run_batch
        from posekit.batch.plan import RunSpec
    except ImportError as exc:
        fail(f"{MISSING_EXTRA} ({exc})")
    model_entry(model)
    if engine is not None and engine not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    options = {"backend": backend, "device": device, **detector_options(detector, None)}
    try:
        spec = RunSpec(model=model, options=options, batch_size=batch_size, shard_size=shard_size, track=track,
                       smooth=smooth, every=every, video_chunk=video_chunk, max_pixels=max_pixels,
                       threads=threads)
    except ValueError as exc:
        fail(str(exc))
    try:
        summary = run_batch(source, out, spec, engine=engine, root=root, address=address, num_workers=num_workers,
                            progress=progress)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    except ImportError as exc:
        fail(f"{MISSING_EXTRA} ({exc})")
    rate = summary["images"] / summary["seconds"] if summary["seconds"] else 0.0
    typer.echo(f"{summary['inputs']} input(s): {summary['images']} image(s), {summary['frames']} frame(s), "
               f"{summary['rows']} pose row(s), {summary['errors']} error(s); {summary['ran']} of "
               f"{summary['tasks']} task(s) run now ({summary['engine']}, {summary['seconds']:.1f} s"
               + (f", {rate:.1f} images/s" if summary["ran"] and summary["images"] else "") + ")")
    typer.echo(f"wrote {out}/shards/ ({len(summary['shards'])} shard(s)), {out}/errors.parquet, "
               f"{out}/summary.json")
    if summary["errors"]:
        typer.echo(f"posekit: {summary['errors']} input(s) failed: see {out}/errors.parquet", err=True)
