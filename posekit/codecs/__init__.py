"""Keypoint codecs: keypoints -> training targets (``encode``) and model outputs -> keypoints (``decode``).

Each codec is a frozen dataclass reproducing the MMPose 1.3.2 codec of the same name to float32
rounding, batched over instances:

* :class:`MSRAHeatmap` -- Gaussian heatmaps (SimpleBaseline, HRNet), plain or DARK (``unbiased=True``).
* :class:`UDPHeatmap` -- UDP heatmaps (ViTPose, HRNet-UDP), ``'gaussian'`` or ``'combined'``.
* :class:`SimCC` -- SimCC x/y label vectors (RTMPose), optional DARK and visibility decoding.
* :class:`Regression` -- coordinates normalised by the input size.
* :class:`PoseNetDecoder` -- PoseNet's bottom-up multi-person decoding (heatmaps, offsets, displacement fields;
  written from the PoseNet paper, not an MMPose codec).

Coordinates are input-space pixels (the model-input crop), x right, y down, pixel ``i`` centred at
``i``. ``encode(keypoints (N, K, 2), keypoints_visible (N, K) | None)`` returns a targets dataclass;
``decode(...)`` takes NumPy arrays or torch tensors and returns :class:`Decoded` (float32 NumPy).

Deliberate difference from MMPose: where MMPose's DARK / UDP / SimCC-DARK decode returns NaN (an
all-zero heatmap or vector, e.g. the target of an invisible keypoint), these decoders return the plain
argmax location (``-1`` in map units, i.e. ``-scale_factor`` input pixels) with score 0.
"""

from __future__ import annotations

from posekit.codecs._refine import heatmap_argmax
from posekit.codecs._types import Decoded, HeatmapTargets, RegressionTargets, SimCCTargets
from posekit.codecs.msra_heatmap import MSRAHeatmap
from posekit.codecs.posenet import POSENET_EDGES, PoseNetDecoded, PoseNetDecoder
from posekit.codecs.regression import Regression
from posekit.codecs.simcc import SimCC
from posekit.codecs.udp_heatmap import UDPHeatmap

__all__ = [
    "Decoded",
    "HeatmapTargets",
    "MSRAHeatmap",
    "POSENET_EDGES",
    "PoseNetDecoded",
    "PoseNetDecoder",
    "Regression",
    "RegressionTargets",
    "SimCC",
    "SimCCTargets",
    "UDPHeatmap",
    "heatmap_argmax",
]
