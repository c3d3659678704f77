"""The ``posekit`` command line: one verb per job (Typer)."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from posekit.bench.command import bench as bench_command
from posekit.cli_common import (
    DEFAULT_MODEL, DEFAULT_VIDEO_MODEL, BatchSize, Backend, Compile, DetectorName, DetectorWeights, Device, Precision,
    Threads, build_estimator, check_output_dir, check_output_file, configure_threads, detector_options, fail,
    require_detector,
)
from posekit.cli_crosseval import crosseval as crosseval_command
from posekit.cli_datamap import datamap as datamap_command
from posekit.cli_ood import ood as ood_command
from posekit.cli_predict import predict as predict_command
from posekit.cli_robustness import robustness as robustness_command
from posekit.cli_batch import batch as batch_command
from posekit.cli_serve import serve as serve_command
from posekit.cli_triangulate import triangulate as triangulate_command
from posekit.cli_weights import weights_app
from posekit.models.registry import get_entry, list_models

app = typer.Typer(
    name="posekit", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Human pose estimation in pure PyTorch: 2D/3D keypoints of people, hands and faces, offline.",
)
app.add_typer(weights_app, name="weights")


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"posekit {metadata.version('posekit')}")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            typer.echo("posekit (not installed: no version metadata)")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print posekit's version and exit.")] = False) -> None:
    """Human pose estimation in pure PyTorch: 2D/3D keypoints of people, hands and faces, offline."""


app.command(name="predict")(predict_command)  # options and help: posekit.cli_predict.predict
app.command(name="triangulate")(triangulate_command)  # options and help: posekit.cli_triangulate.triangulate
app.command(name="robustness")(robustness_command)  # options and help: posekit.cli_robustness.robustness
app.command(name="datamap")(datamap_command)  # options and help: posekit.cli_datamap.datamap
app.command(name="ood")(ood_command)  # options and help: posekit.cli_ood.ood
app.command(name="crosseval")(crosseval_command)  # options and help: posekit.cli_crosseval.crosseval
app.command(name="serve")(serve_command)  # options and help: posekit.cli_serve.serve
app.command(name="batch")(batch_command)  # options and help: posekit.cli_batch.batch


@app.command()
def models(
    task: Annotated[Optional[str], typer.Option(
        help="Only models of this task: body, wholebody, hand, face, animal, lift3d, detect.")] = None,
) -> None:
    """List the public model names with task, skeleton, where the weights come from and the published accuracy of
    the official checkpoint: offline (the MediaPipe wheel or an npm package, no account), downloads (the official
    checkpoint, on first use, verified by its hash; or --weights PATH) or needs checkpoint (no published hash:
    --weights PATH only)."""
    for name in list_models(task=task):
        e = get_entry(name)
        fetches = e.weights is not None and e.weights.sha256 is not None  # no published hash: never downloaded
        weights = "offline" if e.offline else "downloads" if fetches else "needs checkpoint"
        skeleton = e.skeleton.name if e.skeleton is not None else "-"
        accuracy = _published_accuracy(e)
        typer.echo(f"{name:34s} {e.task:9s} {skeleton:18s} {weights:16s} {e.description}"
                   + (f" | published: {accuracy}" if accuracy else ""))


# How `posekit models` names the published metrics of the pose checkpoints (WeightsSpec.meta["metrics"], fractions
# except EPE in pixels); detectors already state theirs in the description.
_METRIC_LABELS = {
    "coco_ap": "COCO AP", "mpii_pckh": "MPII PCKh@0.5", "mpii_pckh_0.1": "PCKh@0.1",
    "wholebody_ap": "COCO-WholeBody AP", "wholebody_ar": "AR", "body_ap": "body AP", "foot_ap": "foot AP",
    "face_ap": "face AP", "hand_ap": "hand AP",
    "ap10k_ap": "AP-10K AP", "pck0.2": "PCK@0.2", "auc": "AUC", "epe": "EPE (px)",
}


def _published_accuracy(entry: Any) -> str:
    """The published accuracy of ``entry``'s official checkpoint in words ("" when none is declared)."""
    meta = getattr(entry.weights, "meta", None) or {}
    if entry.task == "detect":
        return ""
    if "mpjpe_mm" in meta:
        return f"Human3.6M MPJPE {meta['mpjpe_mm']:.1f} mm"
    metrics = meta.get("metrics") or {}
    return ", ".join(f"{_METRIC_LABELS.get(k, k)} {v:.2f}" if k == "epe"
                     else f"{_METRIC_LABELS.get(k, k)} {100 * v:.1f}" for k, v in metrics.items())


@app.command()
def video(
    source: Annotated[str, typer.Argument(help="Video file, or a webcam index (0, 1, ...).")],
    model: Annotated[str, typer.Option(
        "--model", "-m", help="Model name (see `posekit models`); BlazePose's landmark tracking is the fast default "
                              "for video.")] = DEFAULT_VIDEO_MODEL,
    out: Annotated[Optional[Path], typer.Option(help="Annotated output video (.mp4), ids drawn when tracking.")] = None,
    json_out: Annotated[Optional[Path], typer.Option(
        "--json", help="JSON lines, one FrameResult per frame, flushed per frame (input of `posekit analyze`).",
    )] = None,
    csv_out: Annotated[Optional[Path], typer.Option(
        "--csv", help="CSV of keypoints: frame,time_s,instance,track_id,keypoint,x,y,score (pixels).")] = None,
    track: Annotated[bool, typer.Option("--track/--no-track", help="Persistent ids across frames.")] = True,
    smooth: Annotated[Optional[str], typer.Option(
        help="Smoothing: one-euro (online) or savgol (results delayed by 4 frames); implies --track.")] = None,
    start: Annotated[int, typer.Option(min=0, help="First frame index.")] = 0,
    end: Annotated[Optional[int], typer.Option(min=0, help="Stop before this frame index.")] = None,
    every: Annotated[int, typer.Option(min=1, help="Process every N-th frame.")] = 1,
    redetect_every: Annotated[int, typer.Option(
        min=0, help="MediaPipe models: also run the person detector every N processed frames to find people who "
                    "enter (0: only when nobody is tracked, as MediaPipe does).")] = 30,
    kpt_thr: Annotated[float, typer.Option(help="Keypoint score threshold for drawing.")] = 0.3,
    device: Device = "cpu",
    backend: Backend = "torch",
    precision: Precision = "fp32",
    compile: Compile = False,
    batch_size: BatchSize = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar with frames/s.")] = True,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Print the time per stage (decode, detection, pose, tracking, drawing, writing); the "
                          "only output a run without --out, --json and --csv may have.")] = False,
    detector: DetectorName = None,
    detector_weights: DetectorWeights = None,
    weights: Annotated[Optional[Path], typer.Option(
        help="Local checkpoint for models that take one (official MMPose files).")] = None,
    threads: Threads = None,
) -> None:
    """Run pose estimation on a video: annotated video, JSON lines and CSV, with tracking and smoothing.

    A truncated or corrupt video is processed up to the bad frame; the outputs are finalised with the frames
    read so far and the command exits with code 1.
    """
    from posekit.video import run_video

    if smooth is not None and smooth not in ("one-euro", "savgol"):
        fail(f"--smooth must be one-euro or savgol, got {smooth!r}")
    if end is not None and end <= start:
        fail(f"--end ({end}) must be larger than --start ({start})")
    if out is not None and not out.suffix:
        fail(f"--out {out}: give a file name with a video suffix such as .mp4")
    for path, option in ((out, "--out"), (json_out, "--json"), (csv_out, "--csv")):
        check_output_file(path, option)
    if len({p.resolve() for p in (out, json_out, csv_out) if p is not None}) < sum(
            p is not None for p in (out, json_out, csv_out)):
        fail("--out, --json and --csv must be different files")
    camera = source.isdigit() and not Path(source).exists()
    if not camera and not Path(source).is_file():
        fail(f"video file not found: {source}")
    if out is None and json_out is None and csv_out is None and not profile:
        fail("nothing would be written: give --out FILE.mp4 (annotated video), --json FILE.jsonl or --csv FILE.csv "
              "(or --profile to only time the run)")
    configure_threads(threads)
    est = build_estimator(model, device=device, backend=backend, precision=precision, compile=compile,
                          batch_size=batch_size, weights=weights, **detector_options(detector, detector_weights))
    require_detector(est)
    try:
        report = run_video(est, int(source) if camera else source, out=out, json_path=json_out, csv_path=csv_out,
                           start=start, end=end, every=every, track=track, smooth=smooth,
                           redetect_every=redetect_every or None, kpt_thr=kpt_thr, progress=progress,
                           profile=profile)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    timing = report.timing
    ids = f", track ids {list(report.track_ids)}" if report.track_ids else ""
    fps = f", {timing['fps']:.1f} frames/s" if timing["fps"] else ""
    typer.echo(f"{report.frames} frame(s), {report.persons} pose(s){ids}{fps}")
    if profile:
        for stage, seconds in timing["seconds"].items():
            typer.echo(f"  {stage:10s} {seconds:8.3f} s  {100 * (timing['share'][stage] or 0):5.1f} %")
        if timing["outside_networks_share"] is not None:
            typer.echo(f"  outside the networks: {100 * timing['outside_networks_share']:.1f} %")
    if report.outputs:
        typer.echo("wrote " + ", ".join(str(p) for p in report.outputs))
    if report.error is not None:
        typer.echo(f"posekit: error: {report.error}; processed {report.frames} frame(s) before it, outputs "
                   "finalised", err=True)
        raise typer.Exit(1)


@app.command()
def analyze(
    results: Annotated[Path, typer.Argument(help="JSON lines of `posekit video --json`.")],
    out: Annotated[Optional[Path], typer.Option(
        help="Output folder for angles.csv, repetitions.csv, summary.json, angles.png, gait.png "
             "[default: RESULTS without its suffix, plus _analysis].")] = None,
    track_id: Annotated[Optional[int], typer.Option(
        "--track-id", help="Person to analyse (default: the track in most frames).")] = None,
    signal: Annotated[str, typer.Option(
        help="Angle whose repetitions are reported: auto (the joint that moves most), knee, hip, elbow, "
             "shoulder.")] = "auto",
    min_score: Annotated[float, typer.Option(help="Keypoints scoring below this count as missing.")] = 0.5,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate, for results without time_s.")] = None,
) -> None:
    """Motion analytics of one person: joint angles per frame, repetitions (squats, push-ups, jumping jacks),
    gait (steps, cadence, stance/swing); writes CSV tables and PNG plots."""
    from posekit.analysis.report import analyze_results, summary, write_analysis

    check_output_dir(out, "--out")
    try:
        analysis = analyze_results(results, track_id=track_id, signal=signal, min_score=min_score, fps=fps)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    folder = out if out is not None else results.with_name(results.stem + "_analysis")
    files = write_analysis(analysis, folder)
    info = summary(analysis)
    who = "best pose per frame" if analysis.track_id is None else f"track {analysis.track_id}"
    typer.echo(f"{results.name}: {info['frames']} frame(s), {who}")
    typer.echo(f"repetitions: {info['repetitions']} ({analysis.signal} angle, {info['direction']}); per signal: "
               + ", ".join(f"{k} {v}" for k, v in info["repetitions_per_signal"].items()))
    g = info["gait"]
    cadence = "n/a" if g["cadence_spm"] is None else f"{g['cadence_spm']:.1f} steps/min"
    typer.echo(f"gait: {g['steps']} step(s), cadence {cadence}")
    typer.echo("wrote " + ", ".join(str(f) for f in files))


@app.command("eval")
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = DEFAULT_MODEL,
    dataset: Annotated[str, typer.Option(help="coco (any COCO-format keypoint JSON), lsp (test split "
                                              "1001-2000), lspet, mpii (hg_valid.h5), posetrack18 (a PoseTrack18 JSON or a folder of "
                                              "per-video JSONs; --images: the dataset root, default the folder "
                                              "above annotations/), or h36m (a 2D -> 3D lifter: "
                                              "--ann data_3d_h36m.npz --keypoints2d FILE --cameras FILE).")] = "coco",
    ann: Annotated[Optional[Path], typer.Option(
        help="Annotation file (lsp/lspet: the folder with joints.mat).")] = None,
    images: Annotated[Optional[Path], typer.Option(help="Image folder (lsp: ANN/images, the default).")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="Local checkpoint for models that take one.")] = None,
    boxes: Annotated[str, typer.Option(help="Person boxes: gt, detector, or a COCO detections JSON file.")] = "gt",
    detector: DetectorName = None,
    detector_weights: DetectorWeights = None,
    flip: Annotated[Optional[bool], typer.Option("--flip/--no-flip", help="Flip test (default: the model's).")] = None,
    min_presence: Annotated[Optional[float], typer.Option(
        help="MediaPipe pipelines: drop instances whose presence flag is not above this (default: the "
             "pipeline's 0.5; -1 keeps a prediction for every box, even a presence of exactly 0).")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per model call and per flushed write.")] = 8,
    out: Annotated[Optional[Path], typer.Option(help="Output folder [default: posekit-eval/MODEL-DATASET].")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N images.")] = None,
    resume: Annotated[bool, typer.Option(help="Keep the images already in OUT/predictions.jsonl.")] = False,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = "cpu",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    max_missing: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Fail before predicting when more than this fraction of the annotation records name "
                               "image files that do not exist (a wrong --images folder).")] = 0.1,
    keypoints2d: Annotated[Optional[Path], typer.Option(
        help="h36m: the 2D keypoints file (VideoPose3D's data_2d_h36m_gt.npz or a detector's).")] = None,
    cameras: Annotated[Optional[Path], typer.Option(
        help="h36m: camera file (posekit or Human3.6M camera JSON, or Martinez' cameras.h5).")] = None,
    subjects: Annotated[str, typer.Option(help="h36m: test subjects, comma-separated.")] = "S9,S11",
    threads: Threads = None,
) -> None:
    """Evaluate a model on a dataset: PCK@0.2 (bbox and torso), PCKh (MPII), COCO AP (pycocotools; COCO-WholeBody
    per part, AP-10K with its sigmas); a 2D -> 3D lifter on Human3.6M-style data (MPJPE, P-MPJPE, N-MPJPE per
    action).

    Writes OUT/predictions.jsonl (one line per image, appended and flushed as it goes), OUT/results.json (COCO
    results) and OUT/report.json, and prints a per-joint table. Bad annotation records and unreadable images are
    reported and skipped. A run that evaluates no image exits with code 1.
    """
    from posekit import eval as ev

    if dataset == "h36m":
        from posekit.cli_eval3d import evaluate_h36m

        evaluate_h36m(model=None if model == DEFAULT_MODEL else model, ann=ann, keypoints2d=keypoints2d,
                      cameras=cameras, weights=weights, subjects=subjects, out=out, device=device,
                      progress=progress, threads=threads)
        return

    if ann is None:
        fail("--ann is required (the annotation file; for lsp the folder holding joints.mat)")
    out = out if out is not None else Path("posekit-eval") / f"{model}-{dataset}"
    check_output_dir(out, "--out")
    configure_threads(threads)
    try:
        report = ev.run_evaluation(model=model, dataset=dataset, ann=ann, images=images, out=out, weights=weights,
                                   boxes=boxes, flip=flip, min_presence=min_presence, batch_size=batch_size,
                                   limit=limit, resume=resume, device=device, progress=progress,
                                   max_missing=max_missing, **detector_options(detector, detector_weights))
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(ev.format_table(report))
    skipped = report["load_report"]["skipped"]
    for rec in skipped[:20]:
        typer.echo(f"posekit: skipped annotation {rec['index']} ({rec['reason']}): {rec['message']}", err=True)
    if len(skipped) > 20:
        typer.echo(f"posekit: ... and {len(skipped) - 20} more skipped records (see report.json)", err=True)
    for rec in report["image_errors"]:
        typer.echo(f"posekit: skipped image {rec['image']}: {rec['error']}", err=True)
    typer.echo(f"wrote {report['files']['report']}, {report['files']['results']}, {report['files']['predictions']}")
    if not report["counts"]["images_evaluated"]:
        fail("no image was evaluated (every image failed; see above and report.json)", 1)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="YAML recipe (see recipes/).")],
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. optim.lr=1e-4.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint in runtime.out_dir "
                                                          "(or runtime.resume=PATH).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")] = True,
) -> None:
    """Train or fine-tune a model from a YAML recipe with key=value overrides (DDP: run under torchrun)."""
    from posekit.train.config import ConfigError, load_config
    from posekit.train.checkpoint import latest_checkpoint
    from posekit.train.loop import train as run_training

    items = list(overrides or [])
    try:
        cfg = load_config(config, items)
        if resume and cfg.runtime.resume is None:
            cfg = load_config(config, [*items, f"runtime.resume={latest_checkpoint(cfg.runtime.out_dir)}"])
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
    try:
        result = run_training(cfg, progress=progress)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    summary = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    typer.echo(f"step {result.step}/{result.total_steps}, {result.images_per_s:.1f} images/s; "
               f"checkpoint {result.checkpoint}" + (f"; {summary}" if summary else ""))


@app.command()
def export(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = DEFAULT_MODEL,
    format: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    out: Annotated[Path, typer.Option(
        help="Output folder (MediaPipe models: <out>/<name>_detector.onnx and <out>/<name>_landmark.onnx; "
             "top-down models: <out>/<name>.onnx, or give a path ending in .onnx).")] = Path("."),
    dynamic_batch: Annotated[bool, typer.Option(
        "--dynamic-batch", help="Symbolic batch axis (several crops per call, flip test).")] = False,
    weights: Annotated[Optional[Path], typer.Option(
        help="Top-down models: checkpoint to load (default: the official checkpoint, downloaded on first "
             "use).")] = None,
    random_weights: Annotated[bool, typer.Option(
        "--random-weights", help="Top-down models: export the random initialisation (deployment tests only).")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset version.")] = 17,
) -> None:
    """Export a model to ONNX and verify it with ONNX Runtime against PyTorch (1e-4) before writing it."""
    if format.lower() != "onnx":
        fail(f"unknown export format {format!r}; supported: onnx")
    (check_output_file if out.suffix == ".onnx" else check_output_dir)(out, "--out")
    try:
        from posekit.runtime.onnx_export import OnnxVerificationError
        from posekit.runtime.onnx_files import export_model
    except ImportError as exc:
        fail(f"ONNX export needs the onnx and onnxruntime packages ({exc})", 1)
    try:
        paths = export_model(model, out, dynamic_batch=dynamic_batch, opset=opset, weights=weights,
                             random_weights=random_weights, progress=typer.echo)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (OnnxVerificationError, RuntimeError) as exc:  # RuntimeError: download / checksum (names the model)
        fail(str(exc), 1)
    except (ValueError, TypeError, OSError) as exc:
        fail(f"{model}: {exc}", 1)
    typer.echo(f"wrote {len(paths)} file(s): {', '.join(str(p) for p in paths)}")


app.command(name="bench")(bench_command)  # options and help: posekit.bench.command.bench


@app.command()
def lift(
    results: Annotated[Path, typer.Argument(help="JSON lines of 2D poses (`posekit video --json`: one "
                                                 "FrameResult.to_json() object per frame).")],
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="Lifter: simplebaseline3d_h36m or videopose3d_{27,81,243}f_h36m [default: "
                              "videopose3d_243f_h36m; its official MMPose checkpoint (Human3.6M, research use only) "
                              "is downloaded on first use]; optional with a posekit .safetensors checkpoint (its own "
                              "architecture is used).")] = None,
    weights: Annotated[Optional[Path], typer.Option(
        help="posekit lifter checkpoint (.safetensors from `python -m posekit.lift.train`) or an official "
             "MMPose / VideoPose3D checkpoint of --model.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder: lift3d.json, lift3d.csv, lift3d.png.")] = Path("posekit-lift"),
    track: Annotated[str, typer.Option(help="Which person: longest (most frames), all, or a track id.")] = "longest",
    min_score: Annotated[float, typer.Option(
        help="2D keypoints below this score count as missing (interpolated over time).")] = 0.3,
    animation: Annotated[bool, typer.Option(
        "--animation/--no-animation", help="Also write lift3d.mp4 (ffmpeg) or lift3d.gif (pillow).")] = False,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = "cpu",
    fov: Annotated[Optional[float], typer.Option(
        "--fov", help="Camera field of view in degrees across the longer image side (camera-aware lifters) "
                      "[default for unknown cameras: 60, typical of phones and webcams].")] = None,
    focal: Annotated[Optional[float], typer.Option(
        "--focal", help="Camera focal length in pixels (instead of --fov).")] = None,
    principal_point: Annotated[Optional[tuple[float, float]], typer.Option(
        "--principal-point", help="Principal point X Y in pixels [default: the image centre].")] = None,
) -> None:
    """Lift 2D keypoints to 3D: h36m17 joints in root-relative camera-frame millimetres (JSON, CSV, figure).

    Detector skeletons (blazepose33, coco17, ...) are converted to h36m17 first (posekit.threed.to_h36m). Bad
    lines are reported with their line number and skipped; the others are still lifted (exit code 1).
    Camera-aware lifters (posekit checkpoints with the root_scale_ray normalisation) use the camera intrinsics
    (--focal or --fov, --principal-point; default a 60 degree field of view); other lifters ignore them.
    """
    from posekit.lift.pipeline import resolve_lifter
    from posekit.lift.run import LiftInputError, lift_results_file
    from posekit.models.lifters.normalize import CameraIntrinsics

    if fov is not None and focal is not None:
        fail("give --fov or --focal, not both")
    try:
        intrinsics = CameraIntrinsics(focal_length=focal, principal_point=principal_point, fov_deg=fov)
    except ValueError as exc:
        fail(f"--fov / --focal / --principal-point: {exc}")
    check_output_dir(out, "--out")
    if not results.is_file():
        fail(f"results file {results} does not exist" if not results.exists() else f"{results} is not a file")
    try:
        lifter = resolve_lifter(model, weights, device=device)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (OSError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    given = fov is not None or focal is not None or principal_point is not None
    if given and not lifter.camera_aware:
        typer.echo(f"posekit: {lifter.name} is not camera-aware ({lifter.normalization} normalisation); "
                   "--fov / --focal / --principal-point are ignored", err=True)
    try:
        report = lift_results_file(results, lifter, out=out, track=track, min_score=min_score, animation=animation,
                                   model=model, weights=weights, intrinsics=intrinsics if given else None,
                                   warn=lambda m: typer.echo(f"posekit: skipping {m}", err=True))
    except (OSError, UnicodeDecodeError, LiftInputError) as exc:
        fail(str(exc))
    typer.echo(f"lifted {report.tracks} track(s), {report.frames} frame(s) with {lifter.name}; wrote "
               + ", ".join(str(f) for f in report.files))
    if report.errors:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
