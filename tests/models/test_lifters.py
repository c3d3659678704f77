"""2D -> 3D lifters: MMPose parity (tiny fixtures), official layouts, dilated == strided, causal windows,
original VideoPose3D key map, input normalisation and whole-sequence lifting."""

from __future__ import annotations

import doctest
import json
from collections import OrderedDict

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert import load_official
from posekit.models.lifters import normalize, sequence
from posekit.models.lifters.convert import (
    load_videopose3d_original,
    remap_videopose3d_original,
    videopose3d_original_state_dict,
)
from posekit.models.lifters.mlp import H36M_TARGET_MEAN, H36M_TARGET_STD, SimpleBaseline3D, simplebaseline3d
from posekit.models.lifters.normalize import (
    decode_lifting,
    mean_std_denormalize,
    mean_std_normalize,
    root_scale_denormalize,
    root_scale_normalize,
    screen_denormalize,
    screen_normalize,
)
from posekit.models.lifters.sequence import lift_sequence, sequence_padding
from posekit.models.lifters.temporal import KERNEL_SIZES, VideoPose3D, videopose3d
from posekit.models.weights import load_checkpoint
from tests.conftest import shared_path

PARITY = ("fixtures", "mmpose", "parity")


def _fixture(name: str) -> tuple[torch.nn.Module, dict, dict[str, np.ndarray]]:
    folder = shared_path(*PARITY, name)
    info = json.loads((folder / "info.json").read_text())
    sd = load_checkpoint(folder / "model.pth")
    arrays = {p.stem: np.load(p) for p in folder.glob("*.npy")}
    backbone = info["model_cfg"]["backbone"]
    if name.startswith("videopose3d"):
        rf = int(np.prod(backbone["kernel_sizes"]))
        model = videopose3d(receptive_field=rf, channels=backbone["stem_channels"])
        assert tuple(backbone["kernel_sizes"]) == KERNEL_SIZES[rf]
    else:
        decoder = info["model_cfg"]["head"]["decoder"]
        np.testing.assert_allclose(np.reshape(decoder["target_mean"], (16, 3)), H36M_TARGET_MEAN, rtol=0, atol=0)
        np.testing.assert_allclose(np.reshape(decoder["target_std"], (16, 3)), H36M_TARGET_STD, rtol=0, atol=0)
        model = simplebaseline3d(stem_channels=backbone["stem_channels"], num_blocks=backbone["num_blocks"])
    return model, sd, arrays


def _close(got: np.ndarray, ref: np.ndarray, rel: float = 1e-5) -> None:
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=rel * float(np.abs(ref).max()))


# ---------------------------------------------------------------- MMPose parity


def test_videopose3d_27f_parity() -> None:
    model, sd, a = _fixture("videopose3d_27f_tiny")
    load_official(model, sd, source="mmpose")
    assert model.receptive_field == 27 and not model.training
    with torch.no_grad():
        out = model(torch.from_numpy(a["input"])).numpy()
    _close(out, a["out_coords"])
    _close(model.decode(out), a["pred_keypoints"])  # VideoPoseLifting.decode without a root: unchanged
    _close(decode_lifting(out, target_root=a["target_root"]), a["pred_keypoints_with_root"])
    np.testing.assert_array_equal(a["pred_scores"], 1.0)


def test_simplebaseline3d_parity_with_decode() -> None:
    model, sd, a = _fixture("simplebaseline3d_tiny")
    load_official(model, sd, source="mmpose")
    with torch.no_grad():
        out = model(torch.from_numpy(a["input"])).numpy()
        out_flat = model(torch.from_numpy(a["input"][:, :, 0])).numpy()  # (B, 34) input form
    _close(out, a["out_coords"])
    np.testing.assert_array_equal(out, out_flat)
    # ImagePoseLifting.decode: de-normalisation (16 joints), then root added and inserted at 0.
    pred = decode_lifting(out, target_mean=model.target_mean, target_std=model.target_std)
    _close(pred, a["pred_keypoints"])
    with_root = decode_lifting(out, target_mean=model.target_mean, target_std=model.target_std,
                               target_root=a["target_root"], remove_root=True)
    _close(with_root, a["pred_keypoints_with_root"])
    # model.decode: root-relative 17 joints (zero root); + root = MMPose's result with the root.
    rel = model.decode(out)
    assert rel.shape == (2, 17, 3) and np.all(rel[:, 0] == 0)
    _close(rel + a["target_root"][:, None], a["pred_keypoints_with_root"])


def test_pre_1_0_keypoint_head_prefix_loads() -> None:
    model, sd, a = _fixture("videopose3d_27f_tiny")
    v0 = OrderedDict((k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k, v)
                     for k, v in sd.items())
    load_official(model, v0, source="mmpose_v0")
    with torch.no_grad():
        _close(model(torch.from_numpy(a["input"])).numpy(), a["out_coords"])
    with pytest.raises(ValueError, match="keypoint_head.conv.weight"):
        load_official(videopose3d(receptive_field=27, channels=64), v0, source="mmpose")


# ---------------------------------------------------------------- official layouts


LAYOUTS = {
    "image-pose-lift_tcn_8xb64-200e_h36m.json": None,
    "video-pose-lift_tcn-1frm-supv-cpn-ft_8xb128-160e_h36m.json": 1,
    "video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m.json": 27,
    "video-pose-lift_tcn-81frm-supv_8xb128-160e_h36m.json": 81,
    "video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.json": 243,
    "video-pose-lift_tcn-243frm-supv-cpn-ft_8xb128-200e_h36m.json": 243,
    "video-pose-lift_tcn-27frm-semi-supv_8xb64-200e_h36m.json": 27,
    "video-pose-lift_tcn-27frm-semi-supv-cpn-ft_8xb64-200e_h36m.json": 27,
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_full_size_layout_matches_manifest(name: str) -> None:
    layout = json.loads(shared_path("fixtures", "mmpose", "layouts", name).read_text())
    rf = LAYOUTS[name]
    backbone = layout["model_cfg"]["backbone"]
    if rf is None:
        model = posekit.create_model("simplebaseline3d_h36m")
        assert tuple(backbone["kernel_sizes"]) == (1, 1, 1) and backbone["dropout"] == 0.5
    else:
        semi = "traj_backbone" in layout["model_cfg"]
        if rf in (27, 81, 243) and not semi:  # a public name; the others are family-builder variants
            model = posekit.create_model(f"videopose3d_{rf}f_h36m")
        else:
            model = videopose3d(receptive_field=rf, with_trajectory=semi)
        assert tuple(backbone["kernel_sizes"]) == KERNEL_SIZES[rf] and backbone["use_stride_conv"]
        assert model.receptive_field == rf == int(np.prod(backbone["kernel_sizes"]))
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(layout["state_dict"])  # same keys, same order
    assert got == layout["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]


def test_trajectory_model_runs_and_is_optional() -> None:
    model = videopose3d(receptive_field=27, channels=32, with_trajectory=True)
    with torch.no_grad():
        assert model.forward_trajectory(torch.randn(2, 34, 27)).shape == (2, 1, 3)
    with pytest.raises(ValueError, match="no trajectory model"):
        videopose3d(receptive_field=27, channels=32).forward_trajectory(torch.randn(2, 34, 27))


def test_builder_rejects_unknown_receptive_field_and_bad_input() -> None:
    with pytest.raises(ValueError, match="receptive_field must be one of"):
        videopose3d(receptive_field=9)
    model = videopose3d(receptive_field=27, channels=16)
    with pytest.raises(ValueError, match=r"shape \(B, 34, T\)"):
        model(torch.randn(2, 17, 27))
    with pytest.raises(ValueError, match="exactly receptive_field=27"):
        model(torch.randn(2, 34, 30))


# ---------------------------------------------------------------- dilated (sequence) == strided (window)


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(5)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.weight.data = torch.rand(mod.weight.shape, generator=gen) + 0.5
            mod.bias.data = 0.1 * torch.randn(mod.bias.shape, generator=gen)
            mod.running_mean = 0.1 * torch.randn(mod.running_mean.shape, generator=gen)
            mod.running_var = torch.rand(mod.running_var.shape, generator=gen) + 0.5
    return model.eval()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rf", [27, 81])
def test_sequence_form_equals_strided_windows(rf: int, causal: bool) -> None:
    torch.manual_seed(0)
    model = _randomised(videopose3d(receptive_field=rf, channels=48, causal=causal))
    x = torch.randn(1, 34, rf + 40)
    with torch.no_grad():
        windows = x.unfold(2, rf, 1)[0].permute(1, 0, 2)  # (41, 34, rf)
        ref = model(windows).numpy()
        fused = model.forward_sequence(x)[0].numpy()
        plain = model.forward_sequence(x, fuse=False)[0].numpy()
    assert fused.shape == (41, 17, 3)
    _close(fused, ref)
    _close(plain, ref)


def test_fixture_weights_sequence_equals_strided() -> None:
    model, sd, a = _fixture("videopose3d_27f_tiny")
    load_official(model, sd, source="mmpose")
    kpts = np.random.default_rng(0).normal(0, 0.5, (60, 17, 2)).astype(np.float32)
    got = lift_sequence(model, kpts, chunk_size=16, unit="m")  # several chunks
    padded = np.pad(kpts, ((13, 13), (0, 0), (0, 0)), mode="edge")
    windows = torch.from_numpy(padded.reshape(len(padded), 34).T.copy()).unfold(1, 27, 1).permute(1, 0, 2)
    with torch.no_grad():
        ref = model(windows).numpy()
    _close(got, ref)


@pytest.mark.parametrize("causal", [False, True])
def test_causal_option_shifts_the_receptive_field(causal: bool) -> None:
    torch.manual_seed(1)
    model = _randomised(videopose3d(receptive_field=27, channels=32, causal=causal))
    kpts = np.random.default_rng(1).normal(0, 0.5, (100, 17, 2)).astype(np.float32)
    base = lift_sequence(model, kpts)
    poked = kpts.copy()
    poked[50] += 1.0
    changed = np.flatnonzero(np.abs(lift_sequence(model, poked) - base).max(axis=(1, 2)) > 1e-6)
    expected = np.arange(50, 77) if causal else np.arange(37, 64)  # frames whose window holds frame 50
    np.testing.assert_array_equal(changed, expected)
    assert sequence_padding(27, causal=causal) == ((26, 0) if causal else (13, 13))


# ---------------------------------------------------------------- original VideoPose3D layout


def _to_original(sd: dict[str, torch.Tensor], prefix: str = "backbone", head: str = "head") -> dict:
    """posekit -> original VideoPose3D names, written out independently of the module under test."""
    out = {}
    for key, value in sd.items():
        if key.startswith(f"{prefix}.expand_conv.conv."):
            out["expand_conv." + key.rsplit(".", 1)[1]] = value
        elif key.startswith(f"{prefix}.expand_conv.bn."):
            out["expand_bn." + key.rsplit(".", 1)[1]] = value
        elif key.startswith(f"{prefix}.tcn_blocks."):
            parts = key.split(".")  # prefix, tcn_blocks, i, conv1|conv2, 0, conv|bn, param
            index = 2 * int(parts[2]) + (parts[3] == "conv2")
            kind = "layers_conv" if parts[5] == "conv" else "layers_bn"
            out[f"{kind}.{index}.{parts[6]}"] = value
        elif key.startswith(f"{head}.conv."):
            out["shrink." + key.rsplit(".", 1)[1]] = value
    return out


def test_original_videopose3d_checkpoint_loads() -> None:
    model, sd, a = _fixture("videopose3d_27f_tiny")
    original = _to_original(sd)
    assert "layers_conv.3.weight" in original and "layers_bn.3.num_batches_tracked" in original
    assert len(original) == len(sd)
    fresh = videopose3d(receptive_field=27, channels=64)
    load_videopose3d_original(fresh, {"epoch": 80, "model_pos": {"module." + k: v for k, v in original.items()}})
    with torch.no_grad():
        _close(fresh(torch.from_numpy(a["input"])).numpy(), a["out_coords"])
    assert remap_videopose3d_original(original) == dict(sd)


def test_original_semi_supervised_checkpoint_with_trajectory() -> None:
    torch.manual_seed(2)
    src = _randomised(videopose3d(receptive_field=27, channels=16, with_trajectory=True))
    sd = src.state_dict()
    ckpt = {"model_pos": _to_original(sd), "model_traj": _to_original(sd, "traj_backbone", "traj_head")}
    assert videopose3d_original_state_dict(ckpt).keys() == sd.keys()
    dst = videopose3d(receptive_field=27, channels=16, with_trajectory=True)
    load_videopose3d_original(dst, ckpt)
    for key, value in dst.state_dict().items():
        torch.testing.assert_close(value, sd[key], rtol=0, atol=0)
    with pytest.raises(ValueError, match="unexpected key 'layers_norm.0.weight'"):
        remap_videopose3d_original({"layers_norm.0.weight": torch.zeros(1)})


# ---------------------------------------------------------------- normalisation


def test_screen_normalisation_formula_and_inverse() -> None:
    pts = np.random.default_rng(3).uniform(0, 640, (5, 17, 2))
    before = pts.copy()
    n = screen_normalize(pts, width=640, height=480)
    np.testing.assert_allclose(n, pts / 640 * 2 - [1, 480 / 640], rtol=0, atol=1e-6)
    np.testing.assert_allclose(screen_normalize([[[320.0, 240.0]]], width=640, height=480), 0.0, atol=1e-7)
    np.testing.assert_allclose(screen_denormalize(n, width=640, height=480), pts, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(pts, before)
    with pytest.raises(ValueError, match="width must be a positive number"):
        screen_normalize(pts, width=0, height=480)
    with pytest.raises(ValueError, match=r"keypoints must be a numeric array of shape \(\.\.\., K, 2\)"):
        screen_normalize(np.zeros((3, 17)), width=640, height=480)


def test_root_scale_normalisation_is_camera_invariant() -> None:
    rng = np.random.default_rng(4)
    pts = rng.normal(0, 50, (8, 17, 2)) + 300
    n, root, scale = root_scale_normalize(pts)
    np.testing.assert_allclose(n[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(n**2, -1), -1)), 1.0, rtol=1e-5)
    moved, _, scale2 = root_scale_normalize(pts * 3.5 + np.array([-120.0, 800.0]))  # zoom + shift
    np.testing.assert_allclose(moved, n, atol=1e-5)
    np.testing.assert_allclose(scale2, 3.5 * scale, rtol=1e-5)
    np.testing.assert_allclose(root_scale_denormalize(n, root=root, scale=scale), pts, atol=1e-3)
    seq, _, seq_scale = root_scale_normalize(pts, per_sequence=True)
    np.testing.assert_allclose(seq_scale, np.median(scale), rtol=1e-6)
    assert np.ptp(seq_scale) == 0
    with pytest.raises(ValueError, match="root_index must index one of the 17 keypoints"):
        root_scale_normalize(pts, root_index=17)


def test_mean_std_roundtrip_and_decode_errors() -> None:
    from posekit.models.lifters.mlp import H36M_KEYPOINTS_MEAN, H36M_KEYPOINTS_STD

    pts = np.random.default_rng(5).uniform(0, 1000, (4, 17, 2))
    n = mean_std_normalize(pts, mean=H36M_KEYPOINTS_MEAN, std=H36M_KEYPOINTS_STD)
    np.testing.assert_allclose(n, (pts - np.array(H36M_KEYPOINTS_MEAN)) / np.array(H36M_KEYPOINTS_STD), atol=1e-5)
    back = mean_std_denormalize(n, mean=H36M_KEYPOINTS_MEAN, std=H36M_KEYPOINTS_STD)
    np.testing.assert_allclose(back, pts, atol=1e-3)
    with pytest.raises(ValueError, match=r"mean must have shape \(17, 2\)"):
        mean_std_normalize(pts, mean=np.zeros((16, 2)), std=H36M_KEYPOINTS_STD)
    with pytest.raises(ValueError, match="target_mean and target_std must be given together"):
        decode_lifting(np.zeros((1, 16, 3)), target_mean=H36M_TARGET_MEAN)
    with pytest.raises(ValueError, match=r"target_root must have shape \(N, 3\) with N = 2"):
        decode_lifting(np.zeros((2, 17, 3)), target_root=np.zeros((3, 3)))


# ---------------------------------------------------------------- whole sequences


def test_lift_sequence_units_short_sequences_and_errors() -> None:
    model, sd, _ = _fixture("videopose3d_27f_tiny")
    load_official(model, sd, source="mmpose")
    kpts = np.random.default_rng(6).normal(0, 0.5, (5, 17, 2)).astype(np.float32)  # shorter than the window
    before = kpts.copy()
    metres = lift_sequence(model, kpts, unit="m")
    mm = lift_sequence(model, kpts)
    assert metres.shape == (5, 17, 3) and metres.dtype == np.float32
    np.testing.assert_allclose(mm, 1000 * metres, rtol=1e-6)
    np.testing.assert_array_equal(kpts, before)
    # bf16 compute stays close (coarse check of the speed option)
    bf16 = lift_sequence(model, kpts, unit="m", dtype=torch.bfloat16)
    assert np.abs(bf16 - metres).max() < 0.05 * np.abs(metres).max()
    bad = kpts.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="keypoints must be finite"):
        lift_sequence(model, bad)
    with pytest.raises(ValueError, match=r"keypoints must have shape \(T, 17, 2\)"):
        lift_sequence(model, kpts[:, :16])
    with pytest.raises(ValueError, match="unit must be one of"):
        lift_sequence(model, kpts, unit="cm")


def test_lift_sequence_simplebaseline3d_matches_per_frame() -> None:
    model, sd, a = _fixture("simplebaseline3d_tiny")
    load_official(model, sd, source="mmpose")
    kpts = np.random.default_rng(7).normal(0, 1.0, (40, 17, 2)).astype(np.float32)
    got = lift_sequence(model, kpts, chunk_size=7)  # millimetres by default
    with torch.no_grad():
        raw = model(torch.from_numpy(kpts.reshape(40, 34))).numpy()
    _close(got, 1000 * model.decode(raw))
    assert got.shape == (40, 17, 3) and np.all(got[:, 0] == 0)


def test_sequence_docstring_example() -> None:
    result = doctest.testmod(sequence, verbose=False)
    assert result.attempted > 0 and result.failed == 0



def test_builders_load_weight_files_of_every_origin(tmp_path) -> None:
    folder = shared_path(*PARITY, "videopose3d_27f_tiny")
    a = {n: np.load(folder / f"{n}.npy") for n in ("input", "out_coords")}
    sd = load_checkpoint(folder / "model.pth")
    torch.save({"epoch": 3, "lr": 1e-3, "model_pos": _to_original(sd)}, tmp_path / "original.bin")
    v0 = {(k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k): v for k, v in sd.items()}
    torch.save({"meta": {"mmpose_version": "0.14.0"}, "state_dict": v0}, tmp_path / "v0.pth")
    for path in (folder / "model.pth", tmp_path / "original.bin", tmp_path / "v0.pth"):
        model = videopose3d(receptive_field=27, channels=64, weights=path)
        with torch.no_grad():
            _close(model(torch.from_numpy(a["input"])).numpy(), a["out_coords"])
    sb_folder = shared_path(*PARITY, "simplebaseline3d_tiny")
    model = simplebaseline3d(stem_channels=64, weights=sb_folder / "model.pth")
    with torch.no_grad():
        _close(model(torch.from_numpy(np.load(sb_folder / "input.npy"))).numpy(),
               np.load(sb_folder / "out_coords.npy"))
    with pytest.raises(ValueError, match="shape mismatches"):
        videopose3d(receptive_field=27, channels=32, weights=folder / "model.pth")
