"""Models: the registry (:mod:`~posekit.models.registry`), pretrained weights (:mod:`~posekit.models.weights`), one
module per family with its builder, pretrained configs and registration (:mod:`~posekit.models.simplebaseline`,
:mod:`~posekit.models.hrnet`, :mod:`~posekit.models.vitpose`, :mod:`~posekit.models.rtmpose`,
:mod:`~posekit.models.mediapipe`, :mod:`~posekit.models.lifters.zoo`), the top-down model and its settings
(:mod:`~posekit.models.topdown`, :mod:`~posekit.models.mmpose_cfg`), backbones, heads and the TFLite converter.

Nothing is imported here on purpose: importing ``posekit.models`` stays cheap, and each submodule imports
torch (or the flatbuffer parser) only when it is used.
"""
