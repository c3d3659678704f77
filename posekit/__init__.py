"""posekit: human pose estimation in pure PyTorch.

>>> import posekit
>>> est = posekit.PoseEstimator.from_pretrained("blazepose_full")   # doctest: +SKIP
>>> poses = est("person.jpg")                                       # doctest: +SKIP
>>> poses.keypoints.shape                                           # doctest: +SKIP
(1, 33, 2)
"""

from posekit.io.image import load_image
from posekit.models.registry import create_model, list_models
from posekit.pipelines.base import PoseEstimator
from posekit.pipelines.topdown import TopDownEstimator
from posekit.types import Detections, FrameResult, Poses, Poses3D
from posekit.viz import draw

__version__ = "0.1.0"

__all__ = [
    "PoseEstimator", "TopDownEstimator", "Poses", "Poses3D", "Detections", "FrameResult",
    "create_model", "list_models", "load_image", "draw", "__version__",
]
