"""The top-down model table: every entry builds with the official layout, runs forward and backward, carries its
weights as data; checkpoints load strictly from every supported layout with errors that name the keys."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit.codecs import SimCC
from posekit.models.mmpose_cfg import from_mmpose_cfg
from posekit.models.mmpose_zoo import TopdownEntry
from posekit.models.registry import get_entry, list_models
from posekit.models.topdown import load_weights
from posekit.models.weights import ChecksumError
from tests.conftest import shared_path

TOPDOWN = sorted(n for n in list_models() if isinstance(get_entry(n), TopdownEntry))
REQUIRED = {
    "simplebaseline_res50_coco_256x192", "simplebaseline_res101_coco_256x192", "hrnet_w32_coco_256x192",
    "hrnet_w48_coco_384x288", "simplebaseline_res50_mpii_256x256",
    *(f"vitpose_{s}_coco_256x192" for s in "sblh"), *(f"vitpose_{s}_simple_coco_256x192" for s in "sblh"),
    *(f"rtmpose_{s}_coco_256x192" for s in "tsml"),
}
# forward + backward on random weights: these are quick on 2 CPU cores, the rest is marked slow
FAST = {"simplebaseline_res50_mpii_256x256", "hrnet_w32_coco_256x192", "vitpose_s_coco_256x192",
        "vitpose_s_simple_coco_256x192", "rtmpose_t_coco_256x192"}
RTMPOSE_T = ("fixtures", "mmpose", "parity", "rtmpose_t", "model.pth")
# manifests made by MMPose itself for the whole-body / hand / animal configs (tests/fixtures/mmpose_layouts/README.md);
# the body configs' manifests are in the shared fixtures
LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose_layouts"
NEW_LAYOUTS = {  # public name -> MMPose config name (issue #22)
    "rtmw_m_wholebody_256x192": "rtmw-m_8xb1024-270e_cocktail14-256x192",
    "rtmw_l_wholebody_256x192": "rtmw-l_8xb1024-270e_cocktail14-256x192",
    "rtmw_x_wholebody_256x192": "rtmw-x_8xb704-270e_cocktail14-256x192",
    "rtmw_l_wholebody_384x288": "rtmw-l_8xb320-270e_cocktail14-384x288",
    "rtmw_x_wholebody_384x288": "rtmw-x_8xb320-270e_cocktail14-384x288",
    "dwpose_m_wholebody_256x192": "rtmpose-m_8xb64-270e_coco-ubody-wholebody-256x192",
    "dwpose_l_wholebody_256x192": "rtmpose-l_8xb64-270e_coco-ubody-wholebody-256x192",
    "dwpose_l_wholebody_384x288": "rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288",
    "rtmpose_m_hand5_256x256": "rtmpose-m_8xb256-210e_hand5-256x256",
    "rtmpose_m_wholebody_hand_256x256": "rtmpose-m_8xb32-210e_coco-wholebody-hand-256x256",
    "rtmpose_m_ap10k_256x256": "rtmpose-m_8xb64-210e_ap10k-256x256",
    "hrnet_w32_ap10k_256x256": "td-hm_hrnet-w32_8xb64-210e_ap10k-256x256",
}


def official_layout(config: str) -> dict:
    """The MMPose-made manifest of ``config`` (a config name): the committed one, else the shared fixtures' one."""
    local = LAYOUTS / f"{config}.json"
    path = local if local.exists() else shared_path("fixtures", "mmpose", "layouts", f"{config}.json")
    return json.loads(path.read_text())


def test_required_names_are_registered():
    assert REQUIRED <= set(TOPDOWN)
    for name in ("blazepose_full", "mediapipe_hand_full", "mediapipe_hand_lite", "mediapipe_face_mesh"):
        assert name in list_models()  # the MediaPipe entries stay


def test_new_configs_are_registered_with_a_committed_layout():
    made = sorted(p.stem for p in LAYOUTS.glob("*.json"))
    assert made == sorted(NEW_LAYOUTS.values())  # one manifest per new entry, none left over
    for name, config in NEW_LAYOUTS.items():
        assert name in TOPDOWN, f"{name} is not a registered top-down model"
        assert get_entry(name).weights.meta["config"] == config, name


# posekit's metric keys -> the names MMPose's metafiles publish them under (fractions; EPE in pixels).
_METAFILE_NAMES = {"wholebody_ap": "Whole AP", "wholebody_ar": "Whole AR", "body_ap": "Body AP", "foot_ap": "Foot AP",
                   "face_ap": "Face AP", "hand_ap": "Hand AP", "ap10k_ap": "AP", "pck0.2": "PCK@0.2", "auc": "AUC",
                   "epe": "EPE"}


def test_new_entries_quote_the_published_accuracy_of_the_metafiles():
    """Every metric of a new row is the one MMPose's metafile lists for its config (copied into the manifests by
    make_layouts.py); DWPose (no metafile in the ubody folder) is checked against its README table's values here."""
    dwpose = {"dwpose_m_wholebody_256x192": {"wholebody_ap": 0.606, "wholebody_ar": 0.695},
              "dwpose_l_wholebody_256x192": {"wholebody_ap": 0.631, "wholebody_ar": 0.717},
              "dwpose_l_wholebody_384x288": {"wholebody_ap": 0.665, "wholebody_ar": 0.743}}
    for name, config in NEW_LAYOUTS.items():
        ours = dict(get_entry(name).weights.meta["metrics"])
        published = official_layout(config)["published_metrics"]
        if published is None:
            assert ours == dwpose[name], name
            continue
        if name == "rtmpose_m_wholebody_hand_256x256":  # the metafile swaps PCK@0.2 and AUC (MMPose's table does not)
            published = dict(published, **{"PCK@0.2": published["AUC"], "AUC": published["PCK@0.2"]})
            assert "swaps" in get_entry(name).weights.notes
        assert ours and {k: published[_METAFILE_NAMES[k]] for k in ours} == ours, name


@pytest.mark.parametrize("name", TOPDOWN)
def test_entry_matches_official_layout_and_weights_spec(name: str):
    entry = get_entry(name)
    spec = entry.weights
    layout = official_layout(spec.meta["config"])
    assert spec.url == layout["official_weights_url"]
    assert spec.filename == spec.url.rsplit("/", 1)[-1]
    tag = re.search(r"-([0-9a-f]{8})_\d{8}\.pth$", spec.filename)  # OpenMMLab's <sha256[:8]>_<date> name end
    if spec.sha256 is None:  # only where the official name carries no such tag (RTMW-m/l, hand5's 7 digits)
        assert tag is None, f"{name}: {spec.filename} carries sha256 tag {tag.group(1)}"
    else:
        assert tag is not None and tag.group(1) == spec.sha256[:8]
    assert spec.license == "Apache-2.0" and set(spec.meta["metrics"])
    assert tuple(spec.mean) == tuple(layout["data_preprocessor"]["mean"])
    assert tuple(spec.std) == tuple(layout["data_preprocessor"]["std"])
    assert spec.input_size == tuple(layout["codec"]["input_size"])
    with torch.device("meta"):  # ViT-H has 630 M parameters: no memory for the layout check
        model = posekit.create_model(name, device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(layout["state_dict"]) and got == layout["state_dict"]
    dtypes = {k: str(v.dtype).replace("torch.", "") for k, v in model.state_dict().items() if v.dtype != torch.float32}
    assert dtypes == layout["state_dict_non_float32"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    # test-time settings equal the config's
    td = model.spec
    assert td.skeleton is entry.skeleton and td.skeleton.num_keypoints == layout["dataset_meta"]["num_keypoints"]
    assert list(td.skeleton.flip_indices) == layout["dataset_meta"]["flip_indices"]
    if td.skeleton.sigmas is not None:  # OKS sigmas = the dataset's (MMPose keeps them as float32)
        np.testing.assert_array_equal(np.float32(td.skeleton.sigmas), np.float32(layout["dataset_meta"]["sigmas"]))
    assert td.input_size == tuple(layout["codec"]["input_size"])
    assert td.flip_test == layout["test_cfg_effective"]["flip_test"]
    assert td.shift_heatmap == layout["test_cfg_effective"]["shift_heatmap"]
    assert type(td.codec).__name__ == {"SimCCLabel": "SimCC"}.get(layout["codec"]["type"], layout["codec"]["type"])
    assert td.udp == (layout["codec"]["type"] == "UDPHeatmap")
    # every codec setting MMPose's built codec also has (defaults filled in) is the same, e.g. RTMW-384's
    # decode_visibility=True
    codec = {f.name: getattr(td.codec, f.name) for f in dataclasses.fields(td.codec)}
    codec = json.loads(json.dumps({k: v for k, v in codec.items() if k in layout["codec_effective"]}))
    assert "input_size" in codec and codec == {k: layout["codec_effective"][k] for k in codec}, name
    # the manifest's own MMPose config builds the same network and settings
    with torch.device("meta"):
        cfg_model, cfg_spec = from_mmpose_cfg(layout["model_cfg"], skeleton=entry.skeleton)
    assert {k: list(v.shape) for k, v in cfg_model.state_dict().items()} == got
    assert cfg_spec == td


def _forward_backward(name: str) -> None:
    torch.manual_seed(0)
    model = posekit.create_model(name).train()
    spec = model.spec
    w, h = spec.input_size
    if not isinstance(spec.codec, SimCC):  # heatmap models run on any multiple of 32 (ViT resizes its grid)
        w, h = 64, 96
    x = torch.randn(1, 3, h, w, requires_grad=True)
    out = model(x)
    k = spec.skeleton.num_keypoints
    if isinstance(spec.codec, SimCC):
        assert [tuple(o.shape) for o in out] == [(1, k, spec.codec.simcc_size[0]), (1, k, spec.codec.simcc_size[1])]
        loss = out[0].square().mean() + out[1].square().mean()
    else:
        assert tuple(out.shape) == (1, k, h // 4, w // 4)
        loss = out.square().mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"


@pytest.mark.parametrize("name", sorted(FAST))
def test_forward_backward_fast(name: str):
    _forward_backward(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(TOPDOWN) - FAST))
def test_forward_backward_slow(name: str):
    _forward_backward(name)


def test_create_model_loads_official_rtmpose_t_checkpoint():
    folder = shared_path(*RTMPOSE_T).parent
    model = posekit.create_model("rtmpose_t_coco_256x192", weights=folder / "model.pth")
    assert not model.training
    with torch.no_grad():
        sx, sy = model(torch.from_numpy(np.load(folder / "input.npy")))
    ref = np.load(folder / "out_simcc_x.npy")
    np.testing.assert_allclose(sx.numpy(), ref, rtol=0, atol=5e-5 * np.abs(ref).max())
    assert sy.shape == (2, 17, 512)


def test_missing_key_and_checksum_errors(tmp_path):
    path = shared_path(*RTMPOSE_T)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = dict(ckpt["state_dict"])
    del state["head.cls_x.weight"]
    broken = tmp_path / "broken.pth"
    torch.save({"state_dict": state}, broken)
    with pytest.raises(ValueError, match=r"missing keys \(1\): head\.cls_x\.weight") as info:
        posekit.create_model("rtmpose_t_coco_256x192", weights=broken)
    assert str(broken) in str(info.value)
    # the fixture holds random weights, so it cannot carry the official file's hash
    with pytest.raises(ChecksumError, match="e613ba3f"):
        posekit.create_model("rtmpose_t_coco_256x192", weights=path, check_sha256=True)


def test_mmpose_v0_checkpoint_of_the_mpii_model(tmp_path):
    torch.manual_seed(1)
    model = posekit.create_model("simplebaseline_res50_mpii_256x256")
    v0 = {("keypoint_" + k if k.startswith("head.") else k): v.half() for k, v in model.state_dict().items()}
    assert "keypoint_head.final_layer.weight" in v0
    torch.save({"state_dict": v0, "meta": {"mmpose_version": "0.x"}}, tmp_path / "v0.pth")
    loaded = posekit.create_model("simplebaseline_res50_mpii_256x256", weights=tmp_path / "v0.pth")
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, v0[key.replace("head.", "keypoint_head.", 1) if key.startswith("head.")
                                             else key].to(value.dtype), rtol=0, atol=0)


def _to_original_vitpose(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of the 'vitpose_original' key map, with a non-zero class-token position row."""
    out = {}
    renames = {"ln1.": "norm1.", "ln2.": "norm2.", "ffn.layers.0.0.": "mlp.fc1.", "ffn.layers.1.": "mlp.fc2.",
               "attn.": "attn."}
    for key, value in state.items():
        if key == "backbone.pos_embed":
            cls = torch.linspace(-0.1, 0.1, value.shape[-1], dtype=torch.float32).view(1, 1, -1)
            out[key] = torch.cat([cls, value.float() - cls], dim=1)
        elif key.startswith("backbone.patch_embed.projection."):
            out[key.replace("projection.", "proj.")] = value
        elif key.startswith("backbone.ln1."):
            out[key.replace("backbone.ln1.", "backbone.last_norm.")] = value
        elif key.startswith("backbone.layers."):
            index, _, rest = key[len("backbone.layers."):].partition(".")
            new = next(n + rest[len(o):] for o, n in renames.items() if rest.startswith(o))
            out[f"backbone.blocks.{index}.{new}"] = value
        elif key.startswith("head."):
            out["keypoint_" + key] = value
        else:
            raise AssertionError(key)
    return out


def test_original_vitpose_layout_loads_to_the_same_outputs(tmp_path):
    folder = shared_path("fixtures", "mmpose", "parity", "vitpose_tiny_classic")
    info = json.loads((folder / "info.json").read_text())
    state = torch.load(folder / "model.pth", map_location="cpu", weights_only=True)["state_dict"]
    original = _to_original_vitpose(state)
    assert "backbone.blocks.1.mlp.fc2.weight" in original and original["backbone.pos_embed"].shape[1] == 193
    torch.save({"state_dict": original}, tmp_path / "vitpose_original.pth")
    model, _ = from_mmpose_cfg(info["model_cfg"])
    load_weights(model.eval(), tmp_path / "vitpose_original.pth")
    with torch.no_grad():
        out = model(torch.from_numpy(np.load(folder / "input.npy"))).numpy()
    ref = np.load(folder / "out_heatmaps.npy")
    np.testing.assert_allclose(out, ref, rtol=0, atol=5e-5 * np.abs(ref).max())


def test_cli_predict_with_official_checkpoint_and_boxes_file(tmp_path):
    weights = shared_path(*RTMPOSE_T)
    image = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    dets = [{"image_id": 197388, "category_id": 1, "score": 0.9,
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]} for b in boxes]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "posekit.cli", "predict", str(image), "--model", "rtmpose_t_coco_256x192",
           "--weights", str(weights), "--boxes", str(tmp_path / "dets.json"), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "3 pose(s), coco17" in res.stdout
    results = json.loads(out.read_text())
    assert len(results) == 3 and {r["image_id"] for r in results} == {197388}
    # the same pipeline in-process on the same decoded image gives the same keypoints
    est = posekit.PoseEstimator.from_pretrained("rtmpose_t_coco_256x192", weights=weights)
    poses = est(posekit.load_image(image), boxes=boxes)
    got = np.array([r["keypoints"] for r in results]).reshape(3, 17, 3)
    np.testing.assert_allclose(got[..., :2], poses.keypoints, atol=2e-3)
    np.testing.assert_allclose(got[:, :, 2], poses.scores, atol=2e-3)


@pytest.mark.slow
def test_cli_predict_reports_a_broken_checkpoint(tmp_path):
    weights = shared_path(*RTMPOSE_T)
    image = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    (tmp_path / "dets.json").write_text(json.dumps([{"image_id": 197388, "bbox": [10.0, 20.0, 100.0, 200.0]}]))
    cmd = [sys.executable, "-m", "posekit.cli", "predict", str(image), "--model", "rtmpose_t_coco_256x192",
           "--weights", "PATH", "--boxes", str(tmp_path / "dets.json")]
    state = torch.load(weights, map_location="cpu", weights_only=True)["state_dict"]
    torch.save({"state_dict": {k: v for k, v in state.items() if k != "head.gau.o.weight"}}, tmp_path / "bad.pth")
    cmd[cmd.index("--weights") + 1] = str(tmp_path / "bad.pth")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "head.gau.o.weight" in res.stderr
