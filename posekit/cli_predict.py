"""``posekit predict``: poses in image files, written as COCO results JSON and drawings.

Everything a run could fail on before the first image (the model, the boxes file, the output paths) is checked
first and reported in one line (exit code 2). While it runs, an image that cannot be read or estimated, and a
person box that cannot be cropped, is reported (which file, which box) and skipped; the results of the other
images are always written (exit code 1 when something was skipped). Results are never replaced by an empty run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from posekit import skeletons
from posekit.io.coco import write_coco_results
from posekit.io.image import IMAGE_SUFFIXES, save_image
from posekit.cli_common import (
    DEFAULT_MODEL, BatchSize, Backend, Compile, DetectorName, DetectorWeights, Device, Precision, Threads,
    build_estimator, check_boxes_option, check_detection_options, check_output_dir, check_output_file,
    configure_threads, detector_options, fail, require_detector,
)

__all__ = ["IMAGE_SUFFIXES", "expand_images", "image_id", "drawing_names", "predict"]



def expand_images(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, not recursive). A file given twice
    (the same absolute path) is kept once, at its first place."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    first: dict[str, Path] = {}
    for p in out:
        first.setdefault(os.path.abspath(p), p)
    return list(first.values())


def image_id(path: Path, index: int) -> int:
    """COCO image id: the number ending the file stem (``000000000192``, ``COCO_val2014_000000000192``),
    else the 1-based position."""
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else index + 1


def drawing_names(files: list[Path]) -> list[Path]:
    """Relative output paths of the drawings of ``files``, all distinct: ``STEM.png`` when the stems are unique,
    else each file's path relative to the inputs' common folder with ``.png`` (``d1/p.jpg`` -> ``d1/p.png``),
    keeping the original suffix where two files differ only by it (``p.jpg`` -> ``p.jpg.png``)."""
    stems = [f.stem for f in files]
    if len(set(stems)) == len(stems):
        return [Path(s + ".png") for s in stems]
    absolute = [Path(os.path.abspath(f)) for f in files]
    common = os.path.commonpath([a.parent for a in absolute])
    rel = [a.relative_to(common) for a in absolute]
    names = [r.with_suffix(".png") for r in rel]
    return [r.with_name(r.name + ".png") if names.count(n) > 1 else n for r, n in zip(rel, names)]


def _boxes_of(box_file: Any, path: Path, index: int, est: Any) -> Any:
    """Detections of image ``path`` in a BoxesFromFile (by file name, else by the COCO id ending the stem), with
    the skipped records of that image reported on stderr."""
    from posekit.pipelines.topdown import TopDownEstimator

    try:
        key: Any = path.name
        dets = box_file[key]
    except KeyError:
        key = image_id(path, index)
        dets = box_file[key]
    for skipped in box_file.skipped_for(key):
        typer.echo(f"posekit: {path}: skipping box {skipped.describe()}", err=True)
    return dets if isinstance(est, TopDownEstimator) else dets.boxes


def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = DEFAULT_MODEL,
    out: Annotated[Optional[Path], typer.Option(help="Write COCO-format keypoint results (JSON) here.")] = None,
    save_vis: Annotated[Optional[Path], typer.Option(
        help="Write drawn images into this folder (STEM.png; inputs with the same stem keep their relative "
             "folders).")] = None,
    kpt_thr: Annotated[float, typer.Option(help="Keypoint score threshold for drawing.")] = 0.3,
    device: Device = "cpu",
    backend: Backend = "torch",
    coco17: Annotated[bool, typer.Option("--coco17", help="Convert results to the COCO-17 skeleton.")] = False,
    tiles: Annotated[Optional[int], typer.Option(
        min=1, help="BlazePose: also detect on a TILES x TILES grid of overlapping tiles to find small people "
                    "(default: the model's, see `PoseEstimator.from_pretrained`; 1 = MediaPipe's single "
                    "pass).")] = None,
    min_detection_score: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0, help="BlazePose: keep detections down to this score (default: the model's). People "
                               "found only on tiles or below 0.5 are candidates: they pass the landmark model's "
                               "presence flag and a false-positive filter.")] = None,
    weights: Annotated[Optional[Path], typer.Option(
        help="Checkpoint file for the model (official MMPose 1.x/0.x or original ViTPose .pth).")] = None,
    boxes: Annotated[Optional[Path], typer.Option(
        help="COCO detections JSON (results list or dataset dict) giving the person boxes; images are looked up "
             "by file name, else by the number ending the file name (COCO image id). Crowd regions and boxes "
             "of zero size are reported and skipped.")] = None,
    detector: DetectorName = None,
    detector_weights: DetectorWeights = None,
    precision: Precision = "fp32",
    compile: Compile = False,
    batch_size: BatchSize = None,
    threads: Threads = None,
) -> None:
    """Estimate poses in images; print a summary, optionally write results JSON and drawings.

    Unreadable images and boxes that cannot be cropped are reported and skipped; the results of the others are
    still written (exit code 1). An existing results file is never replaced when no image could be read.
    """
    import posekit

    files = expand_images(images)
    if not files:
        fail("no images given (folders are searched for " + ", ".join(sorted(IMAGE_SUFFIXES)) + ")")
    check_output_file(out, "--out")
    check_output_dir(save_vis, "--save-vis")
    configure_threads(threads)
    box_file = None
    if boxes is not None:
        from posekit.detect.boxes import BoxesFromFile

        check_boxes_option(model)
        try:
            box_file = BoxesFromFile(boxes)
        except (OSError, ValueError) as exc:
            fail(f"--boxes: {exc}")
        crowd = sum(s.reason == "crowd" for s in box_file.skipped)
        if crowd:
            typer.echo(f"posekit: --boxes {boxes}: skipping {crowd} crowd region(s) (iscrowd: not persons)",
                       err=True)
    options = {k: v for k, v in (("tiles", tiles), ("min_detection_score", min_detection_score)) if v is not None}
    check_detection_options(model, options)
    options.update(detector_options(detector, detector_weights))
    est = build_estimator(model, device=device, backend=backend, precision=precision, compile=compile,
                          batch_size=batch_size, weights=weights, **options)
    if box_file is None:
        require_detector(est)  # a hand model's detector needs official weights: say what to pass, before any image
    target = skeletons.coco17 if coco17 else None
    names = drawing_names(files)
    results: list[dict] = []
    failed: list[str] = []
    done = 0

    def write_results() -> None:
        if out is None:
            return
        if done:
            write_coco_results(out, results)
            typer.echo(f"wrote {len(results)} result(s) of {done} image(s) to {out}")
        else:
            kept = " (kept as it was)" if out.exists() else ""
            typer.echo(f"posekit: no image was read; {out} not written{kept}", err=True)

    try:
        for index, path in enumerate(files):
            try:
                image = posekit.load_image(path)
                if box_file is None:
                    poses = est(image)
                else:
                    poses = est(image, boxes=_boxes_of(box_file, path, index, est))
            except (OSError, ValueError) as exc:
                typer.echo(f"posekit: skipping {path}: {exc}", err=True)
                failed.append(str(path))
                continue
            if target is not None:
                poses = poses.to_skeleton(target)
            typer.echo(f"{path}: {len(poses)} pose(s), {poses.skeleton.name}")
            results.extend({**rec, "file_name": path.name} for rec in poses.to_coco(image_id(path, index)))
            if save_vis is not None:
                save_image(save_vis / names[index], posekit.draw(image, poses, kpt_thr=kpt_thr))
            done += 1
    except KeyboardInterrupt:
        typer.echo(f"posekit: interrupted after {done} of {len(files)} image(s)", err=True)
        failed.append("(interrupted)")
    except Exception:  # an unexpected failure (a bug, out of memory): keep what is done, then show it
        write_results()
        raise
    write_results()
    if failed:
        typer.echo(f"posekit: {len(failed)} image(s) skipped: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
