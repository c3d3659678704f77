"""2D -> 3D lifters on the h36m17 skeleton.

* :mod:`~posekit.models.lifters.mlp` -- SimpleBaseline3D: a residual MLP on one frame.
* :mod:`~posekit.models.lifters.temporal` -- VideoPose3D: dilated temporal convolutions (receptive fields 1, 27,
  81, 243; causal option); MMPose's strided layout for one window and the dilated form for whole sequences.
* :mod:`~posekit.models.lifters.normalize` -- 2D input normalisation (screen, root + scale, mean/std) and the
  output decode (de-normalisation, root insertion).
* :mod:`~posekit.models.lifters.sequence` -- :func:`lift_sequence`: (T, 17, 2) -> (T, 17, 3) in a few calls.
* :mod:`~posekit.models.lifters.convert` -- key map for the original VideoPose3D checkpoints.

Outputs are root-relative 3D joints in the camera frame (x right, y down, z forward); the official MMPose
checkpoints work in **metres** (``model.output_unit``); ``lift_sequence`` returns millimetres by default.
MMPose checkpoints load with ``posekit.models.convert.load_official(model, state_dict, source="mmpose")``
(``"mmpose_v0"`` for the pre-1.0 files with ``keypoint_head.`` keys, i.e. the official lifter weights).
"""
