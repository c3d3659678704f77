"""``posekit eval``: run a pose estimator over an annotated dataset and score it with the standard metrics.

Three steps, each a plain function (the metrics themselves are in :mod:`posekit.metrics`):

1. :func:`load_eval_set` (:mod:`posekit.eval.dataset`) reads the annotations with the dataset loaders
   (:mod:`posekit.data`); records they reject (missing keys, bad shapes, empty keypoints, missing image files) are
   listed in the report, never raised.
2. :func:`predict_to_file` (:mod:`posekit.eval.predict`) runs the estimator image by image (``batch_size`` images
   per model call) and appends one JSON line per image to a predictions file, flushed and synced after every
   batch: a crash loses nothing already written, and ``resume=True`` skips the images already in the file. Lines
   hold the model's own skeleton and image pixels (x right, y down, origin at the top-left pixel's corner);
   ``null`` = missing keypoint. An image that cannot be read gets an ``"error"`` line and is left out of the
   metrics (retried on resume).
3. :func:`score_predictions` (:mod:`posekit.eval.scores`) maps the predictions to the dataset's skeleton through
   the explicit mappings of :mod:`posekit.skeletons` (composed through ``coco17`` when there is no direct one, or
   the inverse of a one-to-one mapping from the dataset's skeleton, e.g. ``coco17`` predictions on a COCO-WholeBody
   set; joints without a mapping are left out of every metric and listed as ``unmapped``) and computes:

   * PCK@0.2 with two normalisers: ``bbox`` = longer side of the GT box (COCO: the annotated box; LSP / MPII:
     the tight box of the labelled GT joints) -- MMPose's ``PCKAccuracy(norm_item='bbox')``; and ``torso`` =
     ``||GT left_shoulder - GT right_hip||`` -- the LSP literature's PCK (Sapp & Taskar 2013; e.g. the
     ``eval_pose`` toolkit). Every labelled GT joint counts, occluded ones included (MMPose's mask).
   * MPII: PCKh@0.5 / @0.1 (:func:`posekit.metrics.pck.mpii_pckh`, percent).
   * COCO-format sets: AP/AR with pycocotools through :func:`posekit.metrics.coco.coco_metric` (MMPose's
     CocoMetric rescoring and OKS-NMS) against the GT of the evaluated images, with the skeleton's OKS sigmas
     (AP-10K: its own, per GT category with ``boxes="gt"``). COCO-WholeBody sets: AP/AR per part (body, foot,
     face, hands, whole body) through :func:`posekit.metrics.wholebody.coco_wholebody_metric`, results file in
     MMPose's split fields; a part the model does not predict in full is reported as not scored.

:func:`run_evaluation` (:mod:`posekit.eval.runner`) chains the three and writes the JSON report;
:func:`format_table` prints it.

With ``boxes="gt"`` every prediction belongs to the GT instance whose box it was given; a box the model rejects
(e.g. BlazePose's presence flag <= 0.5) has no prediction and its joints count as wrong. With detector or file
boxes, each GT instance takes the prediction whose box overlaps its GT box most (IoU >= 0.3) for PCK.
"""

from __future__ import annotations

from posekit.eval.dataset import EVAL_DATASETS, EvalSet, load_eval_set
from posekit.eval.predict import predict_to_file, read_predictions
from posekit.eval.runner import SCHEMA, build_estimator, run_evaluation
from posekit.eval.scores import format_table, score_predictions, skeleton_mapping

__all__ = [
    "EVAL_DATASETS", "SCHEMA", "EvalSet", "build_estimator", "format_table", "load_eval_set", "predict_to_file",
    "read_predictions", "run_evaluation", "score_predictions", "skeleton_mapping",
]
