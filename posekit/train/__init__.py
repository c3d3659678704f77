"""Training: configuration, losses and the train/validate loop.

* :mod:`~posekit.train.config` -- frozen dataclasses of a run (model, data, augmentation, optimizer, schedule,
  runtime), YAML recipes with one level of ``base:`` inheritance, typed ``key=value`` overrides.
* :mod:`~posekit.train.losses` -- heatmap MSE, SimCC KL divergence, coordinate L1 / L2 / smooth-L1 and MPJPE,
  with MMPose 1.3.2's weighting and reductions.
* :mod:`~posekit.train.loop` -- the explicit training loop (AdamW, warm-up + cosine/step schedule, AMP, EMA, DDP
  through ``torchrun``, atomic checkpoints and bit-exact resume on CPU).
* :mod:`~posekit.train.checkpoint` -- the loop's checkpoint files (atomic, weights-only) and the RNG states they
  keep for the bit-exact resume.
* :mod:`~posekit.train.validation` -- the loop's validation pass (PCK of the model, or its EMA weights, on the
  validation split).

The augmentation the loop applies lives in :mod:`posekit.data.augment` (geometric) and
:mod:`posekit.data.photometric` (pixel values). Nothing here is imported by ``import posekit``. The 2D -> 3D
lifter training is :mod:`posekit.lift.train` (``python -m posekit.lift.train``).
"""
