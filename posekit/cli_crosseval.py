"""``posekit crosseval``: the cross-dataset table, every model x every annotated dataset with the metric native to
each (:mod:`posekit.generalization.crosseval`).

Output (``--out`` folder): ``MODEL-DATASET/`` per cell (the evaluation runner's ``predictions.jsonl``,
``results.json``, ``report.json``; ``--resume``, the default, keeps the images already predicted there),
``crosseval.json`` (every cell's values, counts, timing or error) and ``crosseval.md`` (the Markdown table, also
printed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from posekit.cli_common import Threads, check_output_dir, configure_threads, fail

__all__ = ["DEFAULT_SHARED", "crosseval"]

DEFAULT_SHARED = Path("..") / "shared" / "data"
"""The project's data folder, relative to the checkout (where the commands are run from)."""


def crosseval(
    models: Annotated[str, typer.Option(
        help="Comma-separated model names (see `posekit models`), or all-offline: every body model whose weights "
             "are offline (MediaPipe wheel or npm package).")] = "all-offline",
    shared: Annotated[Path, typer.Option(
        help="Data folder holding lsp/, lspet/, coco/, mmpose_testdata/, mpii/ (datasets absent there become "
             "n/a columns).")] = DEFAULT_SHARED,
    datasets: Annotated[Optional[str], typer.Option(
        help="Comma-separated column names to keep (lsp, lspet, coco_subset, coco_openpose, posetrack18, mpii) "
             "[default: all].")] = None,
    out: Annotated[Path, typer.Option(help="Output folder (cells, crosseval.json, crosseval.md).")] = Path(
        "posekit-crosseval"),
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N images of each dataset.")] = None,
    resume: Annotated[bool, typer.Option(help="Keep the images already predicted in OUT/MODEL-DATASET.")] = True,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = "cpu",
    batch_size: Annotated[int, typer.Option(min=1, help="Images per model call and per flushed write.")] = 8,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per cell.")] = True,
    threads: Threads = None,
) -> None:
    """Evaluate every model on every annotated dataset and print one Markdown table with each dataset's metric:
    PCK@0.2 (bbox / torso) on LSP and LSPET, COCO keypoint AP on the COCO subsets and PoseTrack18 frames; MPII is
    n/a without its images. Models that run on person boxes get the GT boxes; models that find people themselves
    run on the whole image. A cell that fails is reported in the table and the run goes on.
    """
    from posekit.generalization import crosseval as cx

    try:
        names = (cx.offline_body_models() if models.strip() == "all-offline"
                 else cx.check_models([m.strip() for m in models.split(",") if m.strip()]))
    except ValueError as exc:
        fail(f"--models: {exc}")
    columns = cx.default_datasets(shared)
    if datasets is not None:
        wanted = [d.strip() for d in datasets.split(",") if d.strip()]
        known = [d.name for d in columns]
        bad = [d for d in wanted if d not in known]
        if bad or not wanted:
            fail(f"--datasets: unknown {', '.join(bad) or '(none given)'}; known: {', '.join(known)}")
        columns = tuple(d for d in columns if d.name in wanted)
    if all(d.kind is None for d in columns):
        fail(f"--shared {shared}: no dataset to evaluate there (" + "; ".join(d.note for d in columns) + ")")
    check_output_dir(out, "--out")
    configure_threads(threads)
    table = cx.run_crosseval(names, columns, out=out, limit=limit, resume=resume, progress=progress, device=device,
                             batch_size=batch_size)
    paths = cx.write_table(table, out)
    typer.echo(cx.format_markdown(table))
    failed = [c for c in table["cells"] if "error" in c]
    if failed:
        typer.echo(f"posekit: {len(failed)} of {len(table['cells'])} cells failed (see the footnotes)", err=True)
    typer.echo(f"wrote {paths[0]}, {paths[1]}")
