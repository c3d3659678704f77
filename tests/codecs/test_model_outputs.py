"""Decoders on real (random-weight) model outputs: ../shared/fixtures/mmpose/parity/<model>/.

MMPose's head decoded ``out_*`` (no flip) and ``fused_*`` (flip test) into ``noflip_keypoints_input`` and
``pred_keypoints_input``; decoding the same arrays must give the same input-space keypoints, bit for bit. The UDP
decode of ViTPose-classic is ill-conditioned (README section 2) but deterministic, so it is compared
on the stored arrays too.
"""

from __future__ import annotations

import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap, SimCC, UDPHeatmap
from tests.conftest import shared_path

HEATMAP_MODELS = {
    "simplebaseline_res50_tiny": MSRAHeatmap((192, 256), (48, 64), sigma=2),
    "hrnet_tiny": MSRAHeatmap((192, 256), (48, 64), sigma=2),
    "vitpose_tiny_classic": UDPHeatmap((192, 256), (48, 64), sigma=2),
    "vitpose_tiny_simple": UDPHeatmap((192, 256), (48, 64), sigma=2),
}


def _npy(model: str, name: str) -> np.ndarray:
    return np.load(shared_path("fixtures", "mmpose", "parity", model, f"{name}.npy"))


@pytest.mark.parametrize("model", sorted(HEATMAP_MODELS))
def test_heatmap_decode_matches_mmpose_head(model):
    codec = HEATMAP_MODELS[model]
    noflip = codec.decode(_npy(model, "out_heatmaps"))
    # UDP reference keypoints are float64 (MMPose's UDP decode); ours are float32: compare the rounded values.
    ref = _npy(model, "noflip_keypoints_input").astype(np.float32)
    np.testing.assert_array_equal(noflip.keypoints, ref)
    np.testing.assert_array_equal(noflip.scores, _npy(model, "noflip_scores"))
    fused = codec.decode(_npy(model, "fused_heatmaps"))
    ref = _npy(model, "pred_keypoints_input").astype(np.float32)
    np.testing.assert_array_equal(fused.keypoints, ref)


def test_simcc_decode_matches_rtmpose_head():
    codec = SimCC((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False)
    noflip = codec.decode(_npy("rtmpose_t", "out_simcc_x"), _npy("rtmpose_t", "out_simcc_y"))
    np.testing.assert_array_equal(noflip.keypoints, _npy("rtmpose_t", "noflip_keypoints_input"))
    np.testing.assert_array_equal(noflip.scores, _npy("rtmpose_t", "noflip_scores"))
    fused = codec.decode(_npy("rtmpose_t", "fused_simcc_x"), _npy("rtmpose_t", "fused_simcc_y"))
    np.testing.assert_array_equal(fused.keypoints, _npy("rtmpose_t", "pred_keypoints_input"))
