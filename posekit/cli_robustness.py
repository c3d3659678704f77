"""``posekit robustness``: accuracy of a model under image corruptions (:mod:`posekit.generalization.robustness`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import DetectorName, DetectorWeights, Threads, check_output_dir, configure_threads, fail

__all__ = ["robustness"]


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        fail(f"{what} must be comma-separated integers, got {text!r}")
        raise  # unreachable: fail exits


def robustness(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `posekit models`).")] = "blazepose_full",
    dataset: Annotated[str, typer.Option(help="lsp (test split 1001-2000, PCK@0.2), lspet, coco (any COCO-format "
                                              "keypoint JSON, AP), mpii (PCKh).")] = "lsp",
    ann: Annotated[Optional[Path], typer.Option(
        help="Annotation file (lsp/lspet: the folder with joints.mat).")] = None,
    images: Annotated[Optional[Path], typer.Option(help="Image folder (coco: required; lsp: ANN/images).")] = None,
    corruptions: Annotated[str, typer.Option(
        help="Comma-separated corruption names, or 'all' (gaussian_noise, shot_noise, impulse_noise, defocus_blur, "
             "motion_blur, gaussian_blur, fog, brightness, contrast, jpeg_compression, pixelate, occluder).")] = "all",
    severities: Annotated[str, typer.Option(help="Comma-separated severities in 1..5.")] = "1,2,3,4,5",
    seed: Annotated[int, typer.Option(min=0, help="Corruption seed of the run (per image: crc32(seed:file name)).")] = 0,
    boxes: Annotated[str, typer.Option(help="Person boxes: gt or detector.")] = "gt",
    detector: DetectorName = None,
    detector_weights: DetectorWeights = None,
    weights: Annotated[Optional[Path], typer.Option(help="Local checkpoint for models that take one.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N images.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per model call and per flushed write.")] = 8,
    out: Annotated[Optional[Path], typer.Option(
        help="Output folder [default: posekit-robustness/MODEL-DATASET]; a rerun resumes every cell.")] = None,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = "cpu",
    progress: Annotated[bool, typer.Option(help="Show progress bars (cells, images).")] = True,
    threads: Threads = None,
) -> None:
    """Evaluate a model clean and under every corruption x severity (ImageNet-C family + occluders).

    Writes OUT/robustness.json (per cell: PCK / AP, model and corruption seconds per image; summary: clean, mean
    per corruption, mPC, rPC = mPC / clean), OUT/robustness.png (accuracy vs severity) and OUT/cells/*/ (each cell's
    predictions.jsonl and results.json). Interrupted runs resume: rerun the same command.
    """
    from posekit.generalization.robustness import run_robustness

    if ann is None:
        fail("--ann is required (the annotation file; for lsp the folder holding joints.mat)")
    names = None if corruptions.strip() == "all" else [c.strip() for c in corruptions.split(",") if c.strip()]
    out = out if out is not None else Path("posekit-robustness") / f"{model}-{dataset}"
    check_output_dir(out, "--out")
    configure_threads(threads)
    try:
        report = run_robustness(model=model, dataset=dataset, ann=ann, images=images, out=out, corruptions=names,
                                severities=_ints(severities, "--severities"), seed=seed, boxes=boxes, limit=limit,
                                batch_size=batch_size, device=device, weights=weights, detector=detector,
                                detector_weights=detector_weights, progress=progress)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(format_summary(report))
    typer.echo(f"wrote {report['files']['report']}, {report['files']['plot']}")


def format_summary(report: dict) -> str:
    """The summary of a robustness report as a Markdown table: one row per corruption, a column per severity."""
    lines = []
    for metric, s in report["summary"].items():
        sev = sorted({int(k) for e in s["corruptions"].values() for k in e["by_severity"]})
        lines.append(f"{report['model']} on {report['dataset']} ({report['num_images']} images), {metric} (%): "
                     f"clean {100 * s['clean']:.1f}, mPC {_pct(s['mPC'])}, rPC {_pct(s['rPC'])}")
        lines.append("| corruption | " + " | ".join(f"s{k}" for k in sev) + " | mean | mean / clean |")
        lines.append("|---|" + "---:|" * (len(sev) + 2))
        for name, e in s["corruptions"].items():
            cells = [_pct(e["by_severity"].get(str(k))) for k in sev]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_pct(e['mean'])} | {_pct(e['relative'])} |")
        lines.append("")
    return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"
