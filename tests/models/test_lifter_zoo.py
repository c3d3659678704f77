"""The lifters' official checkpoints as data: URLs and hashes against MMPose's own configs, the 0.x key layout the
files use, and the download on first use (its offline failure message; the file is not reachable from here)."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch

import posekit
from posekit.models.lifters.zoo import CHECKPOINTS, DEFAULT_LIFTER, LICENSE, MODELS, LifterEntry
from posekit.models.registry import get_entry
from posekit.models.weights import WeightsError
from tests.conftest import shared_path



def _layout(config: str) -> dict:
    return json.loads(shared_path("fixtures", "mmpose", "layouts", f"{config}.json").read_text())


@pytest.mark.parametrize("row", CHECKPOINTS, ids=lambda r: r.name)
def test_checkpoint_rows_match_mmpose_configs(row):
    layout = _layout(row.config)
    assert row.url == layout["official_weights_url"]  # the URL MMPose's own metafile gives for this config
    assert "keypoint_head." in layout["note"]  # pre-1.0 files: the layout load_lifter_weights reads
    spec = get_entry(row.name).weights
    assert isinstance(get_entry(row.name), LifterEntry) and spec == row.weights_spec()
    assert spec.url == row.url and spec.filename == row.url.rsplit("/", 1)[1] and f"-{spec.sha256}_" in spec.filename
    assert spec.input_size is None and spec.license == LICENSE and "research use only" in LICENSE
    assert spec.meta["normalization"] == ("mean_std" if row.name.startswith("simple") else "screen")
    model = posekit.create_model(row.name)  # random weights: the architecture the file's keys must fit
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == layout["state_dict"]
    assert model.receptive_field == row.args.get("receptive_field", 1)


def test_registry_lists_every_lifter_and_the_default():
    assert sorted(e.name for e in MODELS) == posekit.list_models(task="lift3d")
    assert DEFAULT_LIFTER == "videopose3d_243f_h36m" and DEFAULT_LIFTER in posekit.list_models(task="lift3d")


def test_pretrained_download_failure_is_clear(offline):
    with pytest.raises(WeightsError) as info:
        posekit.create_model("videopose3d_27f_h36m", pretrained=True, progress=False)
    message = str(info.value)
    url = ("https://download.openmmlab.com/mmpose/body3d/videopose/"
           "videopose_h36m_27frames_fullconv_supervised-fe8fbba9_20210527.pth")
    assert message.startswith(f"lifter videopose3d_27f_h36m needs weights: its official checkpoint {url} "
                              "(sha256 starts with fe8fbba9; license: MMPose (Apache-2.0) weights trained on "
                              "Human3.6M: research use only) could not be downloaded (")
    assert "Download it elsewhere and pass --weights PATH" in message
    assert not any(offline.rglob("*.pth")) and not any(offline.rglob("*.part"))  # nothing half-written


def test_weights_file_takes_precedence_over_pretrained(tmp_path, offline):
    torch.manual_seed(0)
    source = posekit.create_model("simplebaseline3d_h36m")
    state = OrderedDict((k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k, v)
                        for k, v in source.state_dict().items())  # the official (MMPose 0.x) layout
    torch.save({"meta": {"mmpose_version": "0.14.0"}, "state_dict": state}, tmp_path / "official.pth")
    model = posekit.create_model("simplebaseline3d_h36m", weights=tmp_path / "official.pth", pretrained=True)
    x = torch.randn(2, 34, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source.eval()(x), rtol=0, atol=0)
