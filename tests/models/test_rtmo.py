"""RTMO network (posekit.models.rtmo) against MMPose 1.3.2: official state-dict layouts, the reduced random RTMO of
tests/fixtures/rtmo (made by MMPose), strict loading and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models.rtmo_zoo import CHECKPOINTS, MODELS
from posekit.models.rtmo import (
    RTMO,
    VARIANTS,
    DCCNet,
    load_rtmo_weights,
    rtmo,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RTMO_DIR = FIXTURES / "rtmo"
LAYOUTS = FIXTURES / "official_layouts"


def fixture_path(name: str) -> Path:
    path = RTMO_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (MMPose-made RTMO fixtures, tests/fixtures/rtmo/make_rtmo_fixture.py)")
    return path


def fixture_config() -> dict:
    return json.loads(fixture_path("rtmo_tiny_config.json").read_text())


@pytest.fixture(scope="session")
def rtmo_tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture's state dict written back as an official checkpoint ``{"meta", "state_dict"}`` (torch.save)."""
    meta = fixture_config().get("checkpoint_meta", {})
    with np.load(fixture_path("rtmo_tiny_state_dict.npz"), allow_pickle=False) as data:
        state = {k: torch.from_numpy(data[k].copy()) for k in data.files}
    path = tmp_path_factory.mktemp("rtmo") / "rtmo_tiny_random.pth"
    torch.save({"meta": meta, "state_dict": state}, path)
    return path


def fixture_model(checkpoint: Path) -> RTMO:
    """The reduced RTMO of the fixture config (sizes read from MMPose's config), ``checkpoint`` loaded strictly."""
    m = fixture_config()["model"]
    neck, head = m["neck"], m["head"]
    hm, dcc = head["head_module_cfg"], head["dcc_cfg"]
    net = rtmo("s", deepen_factor=m["backbone"]["deepen_factor"], widen_factor=m["backbone"]["widen_factor"],
               backbone_channels=tuple(neck["in_channels"]), out_channels=neck["projector"]["out_channels"],
               hidden_dim=neck["hidden_dim"], num_heads=neck["encoder_cfg"]["self_attn_cfg"]["num_heads"],
               feedforward_channels=neck["encoder_cfg"]["ffn_cfg"]["feedforward_channels"],
               neck_widen_factor=neck["widen_factor"], head_widen_factor=hm["widen_factor"],
               head_in_channels=hm["in_channels"], cls_feat_channels=hm["cls_feat_channels"],
               channels_per_group=hm["channels_per_group"], dcc_feat_channels=dcc["feat_channels"],
               num_bins=tuple(dcc["num_bins"]), spe_channels=dcc["spe_channels"], gau_s=dcc["gau_cfg"]["s"])
    load_rtmo_weights(net, checkpoint)
    return net


def cases() -> dict[str, np.ndarray]:
    with np.load(fixture_path("rtmo_tiny_cases.npz"), allow_pickle=False) as data:
        return dict(data)


def _layout(variant: str) -> dict:
    path = LAYOUTS / f"rtmo_{variant}.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (official layout manifests, tests/fixtures/official_layouts)")
    return json.loads(path.read_text())


def _zero_state(layout: dict) -> dict[str, torch.Tensor]:
    dtypes = layout.get("non_float32", {})
    return {k: torch.zeros(shape, dtype=getattr(torch, dtypes.get(k, "float32")))
            for k, shape in layout["state_dict"].items()}


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_official_layout_loads_strictly(variant: str) -> None:
    layout = _layout(variant)
    model = rtmo(variant)
    model.load_state_dict(_zero_state(layout), strict=True)  # raises on any missing / unexpected / shape
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    assert not model.training


def test_official_layout_through_the_file_loader(tmp_path: Path) -> None:
    path = tmp_path / "rtmo_s.pth"
    torch.save({"meta": {"epoch": 600}, "state_dict": _zero_state(_layout("s"))}, path)
    model = rtmo("s")
    load_rtmo_weights(model, path)
    assert float(model.head.dcc.x_bins.abs().sum()) == 0.0  # the file's (zero) buffers replaced the model's


def test_fixture_checkpoint_loads_and_matches_param_count(rtmo_tiny_checkpoint: Path) -> None:
    net = fixture_model(rtmo_tiny_checkpoint)
    assert list(net.state_dict()) == list(_layout("s")["state_dict"])  # MMPose's keys, in MMPose's order
    assert sum(p.numel() for p in net.parameters()) == fixture_config()["num_params"]


@pytest.mark.parametrize("case", ["case0", "case1"])
def test_raw_outputs_match_mmpose(case: str, rtmo_tiny_checkpoint: Path) -> None:
    """Backbone, neck and per-level head outputs of MMPose's network input, within 1e-5 of the largest value."""
    net, data = fixture_model(rtmo_tiny_checkpoint), cases()
    x = torch.from_numpy(data[f"{case}/input_bgr_u8"].astype(np.float32))[None]
    with torch.no_grad():
        backbone = net.backbone(x)
        neck = net.neck(backbone)
        head = net.head(neck)
    pairs = [(backbone[i], f"backbone_out{i}") for i in range(3)] + [(neck[i], f"neck_out{i}") for i in range(2)]
    for j, name in enumerate(("cls_scores", "bbox_preds", "kpt_vis", "pose_vecs")):
        pairs += [(head[j][i], f"head_{name}{i}") for i in range(2)]
    for got, key in pairs:
        ref = data[f"{case}/{key}"]
        err = np.abs(got[0].numpy() - ref).max()
        assert err <= 1e-5 * np.abs(ref).max(), f"{key}: max |diff| {err} vs max |ref| {np.abs(ref).max()}"
    flat = net(x)  # forward: the levels flattened as MMPose's _flatten_predictions
    ref = np.concatenate([data[f"{case}/head_pose_vecs{i}"].reshape(flat[3].shape[-1], -1).T for i in range(2)])
    np.testing.assert_allclose(flat[3][0].detach().numpy(), ref, atol=1e-5 * np.abs(ref).max(), rtol=0)


@pytest.mark.parametrize("case", ["case0", "case1"])
def test_dcc_matches_mmpose(case: str, rtmo_tiny_checkpoint: Path) -> None:
    """The DCC on MMPose's own candidates (pose vectors, padded boxes, cells) gives MMPose's keypoints."""
    net, data = fixture_model(rtmo_tiny_checkpoint), cases()
    vecs, cs, grids = (data[f"{case}/dcc_{k}"] for k in ("pose_vecs", "bbox_cs", "grids"))
    packed = np.concatenate([vecs, cs, grids], axis=1)[:, :, None, None]
    with torch.no_grad():
        out = DCCNet(net)(torch.from_numpy(packed)).numpy()
    np.testing.assert_allclose(out, data[f"{case}/dcc_keypoints"], atol=1e-3, rtol=0)


def test_missing_and_unexpected_keys_named_with_the_file(tmp_path: Path) -> None:
    state = _zero_state(_layout("s"))
    state.pop("head.dcc.pos_enc")
    state["head.extra.weight"] = torch.zeros(3)
    path = tmp_path / "broken_rtmo.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError) as err:
        load_rtmo_weights(rtmo("s"), path)
    msg = str(err.value)
    assert str(path) in msg and "missing keys (1): head.dcc.pos_enc" in msg
    assert "unexpected keys (1): head.extra.weight" in msg


def test_wrong_variant_checkpoint_names_shape_mismatches(tmp_path: Path) -> None:
    path = tmp_path / "rtmo_m.pth"
    torch.save({"state_dict": _zero_state(_layout("m"))}, path)
    with pytest.raises(ValueError, match=r"(?s)rtmo_m\.pth.*unexpected keys.*shape mismatches"):
        load_rtmo_weights(rtmo("s"), path)


def test_non_rtmo_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rtmpose.pth"
    torch.save({"state_dict": {"backbone.stem.0.conv.weight": torch.zeros(1), "head.final_layer.weight":
                               torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match=r"rtmpose\.pth: not an RTMO checkpoint"):
        load_rtmo_weights(rtmo("s"), path)


def test_unknown_variant_and_bad_input() -> None:
    with pytest.raises(KeyError, match="unknown RTMO variant 'x'"):
        rtmo("x")
    with pytest.raises(ValueError, match="multiples of 32"):
        rtmo("s")(torch.zeros(1, 3, 100, 64))


def test_backbone_uses_mmdet_names_over_posekit_yolox_layers() -> None:
    """No second CSPDarknet: the backbone is posekit's YOLOX CSPDarknet (same classes) under MMDet's names."""
    from posekit.models import yolox

    backbone = rtmo("s").backbone
    assert isinstance(backbone, yolox.CSPDarknet)
    assert isinstance(backbone.stage2[1], yolox.CSPLayer) and backbone.stage2[1].main_conv is backbone.dark3[1].conv1
    keys = set(backbone.state_dict())
    assert "stage4.2.blocks.0.conv2.conv.weight" in keys and not any(k.startswith("dark") for k in keys)
    ref = yolox.CSPDarknet(0.33, 0.5)
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in backbone.parameters())
    bn = backbone.stage1[0].bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.03)


def test_registry_entries() -> None:
    assert [e.name for e in MODELS] == ["rtmo_s", "rtmo_m", "rtmo_l"]
    for entry, row in zip(MODELS, CHECKPOINTS):
        assert entry.task == "body" and entry.skeleton.name == "coco17"
        assert entry.weights.sha256 == row.sha256 and row.filename.endswith(f"-{row.sha256}_20231211.pth")
        assert entry.weights.input_size == (640, 640) and entry.weights.mean == (0.0, 0.0, 0.0)
    assert [row.metrics["coco_ap"] for row in CHECKPOINTS] == [0.673, 0.709, 0.724]
    assert set(VARIANTS) == {"s", "m", "l"}
    model = MODELS[0].build_model()
    assert isinstance(model, RTMO) and not model.training and model.config == VARIANTS["s"]
