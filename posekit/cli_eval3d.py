"""``posekit eval --dataset h36m``: a 2D -> 3D lifter on Human3.6M-style files (:mod:`posekit.eval.lift3d`)."""

from __future__ import annotations

from pathlib import Path

import typer

from posekit.cli_common import check_output_dir, configure_threads, fail

__all__ = ["evaluate_h36m"]


def evaluate_h36m(*, model: str | None, ann: Path | None, keypoints2d: Path | None, cameras: Path | None,
                  weights: Path | None, subjects: str, out: Path | None, device: str, progress: bool,
                  threads: int | None) -> None:
    """Lift the test subjects' 2D (``keypoints2d``: ``data_2d_h36m_gt.npz`` or a detector's file) with the lifter
    ``model`` / ``weights`` (as ``posekit lift``), score it against ``ann`` (``data_3d_h36m.npz``) in each camera of
    ``cameras`` (posekit or Human3.6M camera JSON, or ``cameras.h5``): MPJPE / P-MPJPE / N-MPJPE per action, printed
    and written to ``OUT/report.json``."""
    from posekit.eval.lift3d import format_h36m_report, run_h36m_evaluation

    missing = [f"--{name}" for name, value in (("ann", ann), ("keypoints2d", keypoints2d), ("cameras", cameras))
               if value is None]
    if missing:
        fail(f"--dataset h36m needs {', '.join(missing)} (data_3d_h36m.npz, data_2d_h36m_gt.npz and the camera "
             "file; posekit ships no Human3.6M data)")
    out = out if out is not None else Path("posekit-eval") / "lifter-h36m"
    check_output_dir(out, "--out")
    configure_threads(threads)
    try:
        report = run_h36m_evaluation(
            ann=ann, keypoints2d=keypoints2d, cameras=cameras, model=model, weights=weights,
            subjects=tuple(s for s in subjects.split(",") if s), out=out, device=device,
            progress=(lambda s: typer.echo(s, err=True)) if progress else None)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # RuntimeError: a lifter download (WeightsError)
        fail(str(exc))
    typer.echo(format_h36m_report(report))
    typer.echo(f"wrote {report['report']}")
