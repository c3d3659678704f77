"""Parity of converted TensorFlow.js graphs with TensorFlow.js's own outputs (../shared/fixtures/tfjs).

Bar (issue 16): every output within 1e-4 of its largest magnitude, on both stored inputs.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from posekit.models.tfjs import build_module, convert_file
from tests.conftest import shared_path
from tests.models.tfjs._files import model_json

# Graphs that convert today (with parity).
CONVERTED = [
    "nanodet",
    "posenet",
    "blazepose-detector",
    "blazepose-heavy",
    "movenet-thunder",
    "movenet-lightning",
    "movenet-multipose",
]


@functools.cache
def _module(model: str):
    spec, tensors = convert_file(model_json(model))
    return build_module(spec, tensors)


@pytest.mark.parametrize("case", ["astronaut", "coco328"])
@pytest.mark.parametrize("model", CONVERTED)
def test_outputs_match_tensorflow_js(model: str, case: str) -> None:
    ref = np.load(shared_path("fixtures", "tfjs", model, f"{case}.npz"))
    module = _module(model)
    x = torch.from_numpy(ref["input"].astype(np.float32)).permute(0, 3, 1, 2)  # graph NHWC -> module NCHW
    with torch.inference_mode():
        outputs = module(x)
    expected = {k[4:]: ref[k] for k in ref.files if k.startswith("out:")}
    assert sorted(module.output_names) == sorted(expected)
    for name, y in zip(module.output_names, outputs):
        want = expected[name]
        assert y.shape == want.shape, name
        err = np.abs(y.numpy() - want).max() / np.abs(want).max()
        assert err <= 1e-4, f"{model}/{case} {name}: max error {err:.2e} of the largest magnitude"


@pytest.mark.parametrize("model", ["posenet", "nanodet", "blazepose-detector"])
def test_batch_of_two_gives_each_sample_its_own_outputs(model: str) -> None:
    module = _module(model)
    ref = np.load(shared_path("fixtures", "tfjs", model, "astronaut.npz"))
    other = np.load(shared_path("fixtures", "tfjs", model, "coco328.npz"))
    x = torch.from_numpy(np.concatenate([ref["input"], other["input"]])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        both = module(x)
        one = module(x[1:])
    for a, b in zip(both, one):
        torch.testing.assert_close(a[1:], b, rtol=1e-5, atol=1e-5)


def test_graphs_decoding_in_graph_layout_refuse_a_batch_above_one() -> None:
    module = _module("movenet-lightning")
    with torch.inference_mode(), pytest.raises(ValueError, match="batch 1 only, got a batch of 2"):
        module(torch.zeros(2, 3, 192, 192))
