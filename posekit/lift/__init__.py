"""2D -> 3D lifting: train a lifter on motion capture, load it, lift 2D poses and tracked videos to 3D.

The flow, one module per step:

1. :mod:`~posekit.lift.data` -- the CMU mocap clips as h36m17 joints in world mm (converted once, cached) and the
   held-out split (whole clips and a whole subject).
2. :mod:`~posekit.lift.train` -- training on those clips seen by random virtual cameras
   (``python -m posekit.lift.train --help``); writes a posekit lifter checkpoint.
3. :mod:`~posekit.lift.pipeline` -- the checkpoint format (:func:`save_lifter`, :func:`load_lifter`),
   :class:`Lifter` (network + 2D normalisation), :func:`resolve_lifter` (posekit or official checkpoints),
   per-frame 2D poses -> h36m17 tracks (:func:`collect_tracks`, :func:`interpolate_missing`) and
   :class:`LiftingEstimator` (a 2D :class:`~posekit.pipelines.base.PoseEstimator` followed by a lifter).
4. :mod:`~posekit.lift.io` and :mod:`~posekit.lift.run` -- ``posekit lift``: 2D results (JSON lines) in, lifted
   3D tracks out as JSON, CSV, a figure and an optional animation (:func:`lift_results_file`).

Layering: this package is an application above :mod:`posekit.pipelines`. It uses the lifter networks of
:mod:`posekit.models.lifters` and the 3D geometry of :mod:`posekit.threed` (cameras, training pairs, pose
augmentation, mocap readers, skeleton mapping to h36m17); neither of them imports it. :mod:`~posekit.lift.train`
is not imported here (it is the ``python -m`` entry point); import it directly.
"""

from posekit.lift.data import DEFAULT_TEST_CLIPS, DEFAULT_TEST_SUBJECTS, load_cmu_clips, split_clips
from posekit.lift.io import animate_lift, plot_lift_frames, read_results_jsonl, write_lift_csv, write_lift_json
from posekit.lift.pipeline import (LIFTER_FORMAT, NORMALIZATIONS, Lifter, LiftingEstimator, Track2D, build_lifter,
                                   collect_tracks, interpolate_missing, load_lifter, resolve_lifter, save_lifter)
from posekit.lift.run import LiftInputError, LiftReport, lift_results_file

__all__ = [
    "LIFTER_FORMAT", "NORMALIZATIONS", "build_lifter", "save_lifter", "load_lifter", "Lifter", "resolve_lifter",
    "interpolate_missing", "Track2D", "collect_tracks", "LiftingEstimator",
    "read_results_jsonl", "write_lift_json", "write_lift_csv", "plot_lift_frames", "animate_lift",
    "LiftInputError", "LiftReport", "lift_results_file",
    "DEFAULT_TEST_CLIPS", "DEFAULT_TEST_SUBJECTS", "load_cmu_clips", "split_clips",
]
