"""Validation of the training loop (:mod:`posekit.train.loop`): :func:`evaluate` (PCK / EPE of a model on a
validation loader) and :func:`torso_joints` (the joint pair that normalises ``pck_torso``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from posekit.metrics.pck import bbox_size, epe, pck, torso_size
from posekit.pipelines.topdown import TopDownEstimator

__all__ = ["evaluate", "torso_joints"]


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Any, *, device: torch.device, torso: tuple[int, int] | None = None
             ) -> dict[str, float]:
    """PCK of ``model`` (with ``model.spec``) on a validation loader of :class:`~posekit.train.data.PoseDataset`.

    Predictions come from :class:`posekit.pipelines.topdown.TopDownEstimator` (the inference path, flip test off)
    on the GT-box crops, in image pixels. Metrics (fractions): ``pck_bbox@{0.05,0.1,0.2}`` normalised by the
    longer side of the tight box around the GT joints, ``pck_torso@{0.1,0.2}`` by the GT ``torso`` joint distance
    (when given), ``epe_px`` mean pixel error, over labelled joints."""
    est = TopDownEstimator(model, spec=model.spec, device=device, batch_size=loader.batch_size, flip_test=False)
    preds, gts, vis = [], [], []
    for batch in loader:
        kp, _ = est.predict_inputs(batch["image"], batch["center"].numpy(), batch["scale"].numpy(), normalized=False)
        preds.append(kp)
        gts.append(batch["keypoints"].numpy())
        vis.append(batch["visible"].numpy())
    pred, gt, visible = np.concatenate(preds), np.concatenate(gts), np.concatenate(vis)
    filled = np.where(np.isfinite(gt), gt, np.nan)
    tight = np.concatenate([np.nanmin(filled, axis=1), np.nanmax(filled, axis=1)], axis=1)
    out = {f"pck_bbox@{t}": pck(pred, gt, visible, threshold=t, normalize=bbox_size(tight)).mean
           for t in (0.05, 0.1, 0.2)}
    if torso is not None:
        size = torso_size(np.nan_to_num(gt), first=torso[0], second=torso[1])
        for t in (0.1, 0.2):
            out[f"pck_torso@{t}"] = pck(pred, gt, visible, threshold=t, normalize=size).mean
    out["epe_px"] = epe(pred, gt, visible)
    return {k: float(v) for k, v in out.items()}


def torso_joints(skeleton: Any) -> tuple[int, int] | None:
    """The (left shoulder, right hip) joint indices of ``skeleton`` (the ``torso`` of :func:`evaluate`), or ``None``
    when it lacks either joint."""
    names = list(skeleton.keypoints)
    if "left_shoulder" in names and "right_hip" in names:
        return names.index("left_shoulder"), names.index("right_hip")
    return None
