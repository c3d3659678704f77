"""``posekit datamap``: a map of pose datasets in a common, root-relative pose space (UMAP / PCA), with the
coverage table (:mod:`posekit.generalization.datamap`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli_common import check_output_dir, fail

__all__ = ["datamap"]


def datamap(
    sources: Annotated[list[str], typer.Argument(
        help="Pose sources as NAME=PATH or NAME=KIND:PATH (KIND: coco, posetrack18, mpii, lsp, lspet, results, cmu, "
             "h36m_npz; detected from the file when left out), e.g. COCO=../shared/data/coco/"
             "person_keypoints_val2017_reconstructed.json LSP=../shared/data/lsp CMU=cmu:../shared/data/mocap/cmu")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("posekit-datamap"),
    dim: Annotated[int, typer.Option(min=2, max=3, help="2: image keypoints (3D sources projected through seeded "
                                                         "virtual cameras); 3: 3D sources only.")] = 2,
    frame: Annotated[str, typer.Option(help="3D: camera (as the virtual cameras see it) or body (yaw removed, hips "
                                            "along +x).")] = "camera",
    scale: Annotated[str, typer.Option(help="torso (mid-shoulder to mid-hip = 1), bones (mean limb bone = 1) or "
                                            "none.")] = "torso",
    canonical_lr: Annotated[bool, typer.Option(
        "--canonical-lr/--no-canonical-lr", help="Map each pose and its mirror image to one point.")] = False,
    method: Annotated[str, typer.Option(help="umap, pca or both.")] = "umap",
    max_per_set: Annotated[int, typer.Option(min=1, help="Poses per dataset after a seeded subsample.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the subsample, the virtual cameras and UMAP.")] = 0,
    neighbors: Annotated[int, typer.Option(min=2, help="UMAP n_neighbors.")] = 15,
    min_dist: Annotated[float, typer.Option(min=0.0, help="UMAP min_dist.")] = 0.1,
    coverage: Annotated[bool, typer.Option(help="Compute the coverage / separability table.")] = True,
    coverage_max_per_set: Annotated[int, typer.Option(min=10, help="Poses per dataset in the coverage table.")] = 2000,
    k: Annotated[int, typer.Option(min=1, help="Neighbours of the coverage radius and the domain classifier.")] = 5,
    stride: Annotated[int, typer.Option(min=1, help="3D mocap: keep every STRIDE-th frame (120 fps).")] = 12,
) -> None:
    """Map pose datasets in one normalised pose space (12 limb joints, mid-hip at the origin, torso length 1).

    Writes OUT/map_<method>.png and .html (coloured by dataset), OUT/embedding_<method>.npz and .csv (coordinates,
    dataset, row in the source), OUT/coverage.json and .md (how much of each dataset lies within each other's
    support, how separable they are, per-joint variance) and OUT/datamap.json (options, counts, timings).
    """
    from posekit.generalization.datamap import build_datamap
    from posekit.generalization.sources import parse_source

    if scale not in ("torso", "bones", "none"):
        fail(f"--scale must be torso, bones or none, got {scale!r}")
    if frame not in ("camera", "body"):
        fail(f"--frame must be camera or body, got {frame!r}")
    methods = {"umap": ("umap",), "pca": ("pca",), "both": ("umap", "pca")}.get(method)
    if methods is None:
        fail(f"--method must be umap, pca or both, got {method!r}")
    check_output_dir(out, "--out")
    try:
        parsed = [parse_source(s) for s in sources]
        summary = build_datamap(parsed, out=out, dim=dim, frame=frame, scale=None if scale == "none" else scale,
                                canonicalize_lr=canonical_lr, methods=methods, max_per_set=max_per_set, seed=seed,
                                n_neighbors=neighbors, min_dist=min_dist, coverage=coverage,
                                coverage_max_per_set=coverage_max_per_set, k=k, stride=stride,
                                log=lambda msg: typer.echo(msg, err=True))
    except ImportError as exc:
        fail(str(exc))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        fail(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc))
    if summary["coverage"] is not None:
        from posekit.generalization.tables import format_coverage_markdown

        typer.echo(format_coverage_markdown(summary["coverage"]))
    total = sum(s["mapped"] for s in summary["sources"])
    typer.echo(f"{total} poses mapped in {summary['seconds']['total']:.1f} s; wrote "
               + ", ".join(Path(f).name for f in summary["files"].values()) + f" and datamap.json in {out}")
