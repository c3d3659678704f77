"""``posekit ood``: flag the poses of a results file that are unlike anything in a reference dataset.

Input ``RESULTS``: a ``posekit video --json`` JSON-lines file (one :meth:`posekit.types.FrameResult.to_json` object
per line, read by :func:`posekit.lift.io.read_results_jsonl`; ``frame`` = the video frame, track ids when written
with ``--track``), or a ``posekit predict --out`` COCO results list (``frame`` = the ``image_id``, instances in file
order per image; the skeleton is inferred from the keypoint count -- 17: coco17, 33: blazepose33, ... -- or given
with ``--skeleton``). Keypoints scored ``<= --min-score`` are missing.

References ``--reference NAME=PATH`` or ``NAME=KIND:PATH`` (repeatable; several are pooled into one reference): any
pose source of :mod:`posekit.generalization.sources` -- COCO-format keypoint JSON, PoseTrack18, MPII ``.h5``/CSV,
LSP/LSPET ``joints.mat``, posekit results, CMU mocap / H3.6M ``.npz`` projected through virtual cameras (labelled
joints count, occluded ones included). The OOD model is
:func:`posekit.generalization.ood.fit_ood` on the 12 limb joints, mid-hip root, torso scale; score 1.0 = the
reference's own 95th percentile of mean distance to its ``--k`` nearest neighbours.

Output: one line per flagged instance (``frame 123 track 2: score 1.80 -- unlike anything in coco``), a summary, and
with ``--out`` a CSV ``frame,instance,track_id,score,flagged`` (score empty where the pose could not be normalised:
fewer than 6 limb joints, no hips or no shoulders).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posekit import skeletons as sk
from posekit.cli_common import check_output_file, fail
from posekit.generalization.posespace import BODY12
from posekit.io.atomic import atomic_destination

__all__ = ["load_reference", "ood", "read_results", "write_scores_csv"]

def load_reference(spec: str, options: Any) -> Any:
    """The normalised :class:`~posekit.generalization.posespace.PoseSet` of a ``NAME=PATH`` / ``NAME=KIND:PATH``
    reference (:func:`posekit.generalization.sources.parse_source`, ``load_pose_set`` with ``options``' scale,
    canonicalisation and ``min_joints``; 2D: 3D sources are projected through their virtual cameras)."""
    from posekit.generalization.sources import load_pose_set, parse_source

    if tuple(options.joints) != BODY12 or options.target != sk.coco17:
        raise ValueError("references are loaded on the BODY12 joints of coco17 only")
    return load_pose_set(parse_source(spec), dim=2, scale=options.scale, canonicalize_lr=options.canonicalize_lr,
                         min_joints=options.min_joints)


def read_results(path: Path, *, skeleton: str | None = None) -> tuple[list, list[str]]:
    """``(frames, errors)``: ``(frame, time_s, Poses)`` per frame / image of a ``posekit video --json`` file or a
    ``posekit predict`` COCO results list (skeleton ``skeleton``, a :mod:`posekit.skeletons` name, else from the
    keypoint count: :data:`~posekit.generalization.sources.RESULT_SKELETONS`), and messages for bad JSON lines
    (skipped)."""
    from posekit.generalization.sources import (
        is_coco_results_list,
        read_coco_results_arrays,
    )
    from posekit.lift.io import read_results_jsonl
    from posekit.types import Poses

    if not is_coco_results_list(path):
        return read_results_jsonl(path)
    skel = None
    if skeleton is not None:
        skel = getattr(sk, skeleton, None)
        if not isinstance(skel, sk.Skeleton):
            raise ValueError(f"--skeleton {skeleton!r} is not a posekit skeleton (e.g. coco17, blazepose33, hand21)")
    res = read_coco_results_arrays(path, skeleton=skel)
    frames = []
    for image_id in dict.fromkeys(res.image_ids.tolist()):  # first-appearance order
        rows = np.flatnonzero(res.image_ids == image_id)
        tracks = [res.track_ids[r] for r in rows]
        frames.append((int(image_id), None, Poses(res.keypoints[rows], res.scores[rows], res.boxes[rows],
                                                  res.skeleton,
                                                  track_ids=tracks if all(t is not None for t in tracks) else None)))
    return frames, []


def write_scores_csv(path: Path, scores: Any) -> Path:
    """``frame,instance,track_id,score,flagged`` per instance of a :class:`~posekit.generalization.ood.PoseScores`
    (score empty when not scored, 4 decimals; flagged 0/1), written atomically."""
    with atomic_destination(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "instance", "track_id", "score", "flagged"])
        for f, i, t, s, fl in zip(scores.frame, scores.instance, scores.track_id, scores.scores, scores.flagged):
            w.writerow([int(f), int(i), int(t), f"{s:.4f}" if np.isfinite(s) else "", int(fl)])
    return path


def ood(
    results: Annotated[Path, typer.Argument(
        help="Results to score: `posekit video --json` JSON lines, or a `posekit predict --out` results.json.",
        show_default=False)],
    reference: Annotated[list[str], typer.Option(
        "--reference", "-r", help="NAME=PATH or NAME=KIND:PATH of a reference dataset (COCO JSON, MPII, LSP, "
                                  "PoseTrack18, results, cmu, h36m_npz); repeat to pool several.", show_default=False)],
    threshold: Annotated[float, typer.Option(
        help="Flag instances scoring above this (1.0 = the reference's own 95th percentile).")] = 1.0,
    k: Annotated[int, typer.Option("--k", min=1, help="Nearest reference poses averaged per score.")] = 5,
    out: Annotated[Path | None, typer.Option(
        help="CSV of every instance: frame,instance,track_id,score,flagged.")] = None,
    min_score: Annotated[float, typer.Option(help="Keypoints scored <= this are missing.")] = 0.3,
    skeleton: Annotated[str | None, typer.Option(
        help="Skeleton of a results.json (default: from the keypoint count).")] = None,
    show: Annotated[int, typer.Option(min=0, help="Print at most this many flagged instances.")] = 50,
) -> None:
    """Score every pose of RESULTS against reference datasets; flag the poses unlike anything in them."""
    from posekit.generalization.ood import NormalizeOptions, fit_ood, score_poses

    check_output_file(out, "--out")
    if not results.is_file():
        fail(f"results file {results} does not exist")
    opts = NormalizeOptions()
    sets = []
    for spec in reference:
        try:
            sets.append(load_reference(spec, opts))
        except (OSError, ValueError) as exc:
            fail(f"--reference {spec}: {exc}" if spec not in str(exc) else str(exc))
    names = [s.dataset for s in sets]
    if len(set(names)) < len(names):
        fail(f"--reference names must differ, got {names}")
    try:
        model = fit_ood(sets, options=opts, k=k)
    except ValueError as exc:
        fail(str(exc))
    try:
        frames, errors = read_results(results, skeleton=skeleton)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        fail(f"{results}: {exc}" if str(results) not in str(exc) else str(exc))
    for msg in errors[:5]:
        typer.echo(f"posekit: skipping {msg}", err=True)
    if not frames:
        fail(f"{results}: no valid frame" + (f" ({errors[0]})" if errors else " (empty file)"))
    try:
        ps = score_poses(model, frames, threshold=threshold, score_threshold=min_score)
    except ValueError as exc:
        fail(f"{results}: {exc}")
    label = model.label
    flagged = np.flatnonzero(ps.flagged)
    for j in flagged[:show]:
        who = f"track {ps.track_id[j]}" if ps.track_id[j] >= 0 else f"instance {ps.instance[j]}"
        typer.echo(f"frame {ps.frame[j]} {who}: score {ps.scores[j]:.2f} -- unlike anything in {label}")
    if len(flagged) > show:
        typer.echo(f"... and {len(flagged) - show} more flagged instance(s)" + (f" (all in {out})" if out else ""))
    scored = np.isfinite(ps.scores)
    typer.echo(f"{len(ps)} instance(s) in {len(frames)} frame(s) against {label} ({len(model.scorer.reference)} "
               f"reference poses, k={k}): {int(ps.flagged.sum())} flagged (score > {threshold:g}), "
               f"{int((~scored).sum())} not scorable (too few joints above --min-score {min_score:g}); median score "
               + (f"{float(np.median(ps.scores[scored])):.2f}" if scored.any() else "n/a"))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_scores_csv(out, ps)
        typer.echo(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    typer.run(ood)
