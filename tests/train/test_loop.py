"""The training loop on real LSP images with a tiny model: loss goes down, resume is bit-exact, checkpoints are
atomic and weights-only, the head is rebuilt for the data's keypoints, and the CLI reports config errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models.simplebaseline import simplebaseline
from posekit.skeletons import coco17, lsp14
from posekit.train.config import ScheduleConfig, config_from_dict
from posekit.train.data import PoseDataset, StepSampler, load_samples
from posekit.train.loop import latest_checkpoint, load_checkpoint, lr_factor, train
from posekit.train.model import build_train_model
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[2]
NO_AUG = {"flip_prob": 0.0, "half_body_prob": 0.0, "shift_prob": 0.0, "scale_prob": 0.0, "rotate_prob": 0.0}


def tiny_family(skeleton=lsp14):
    """ResNet-18 at 1/4 width, 64x96 input, 16x24 heatmaps: a few MFLOPs per crop."""
    return lambda: simplebaseline(18, input_size=(64, 96), skeleton=skeleton, stem_channels=16, base_channels=16,
                                  deconv_out_channels=(32, 32, 32))


def tiny_config(out_dir, *, steps=6, n=16, augment=None, **runtime):
    lsp = str(shared_path("data", "lsp"))
    data = {"model": {"name": "simplebaseline_res50_coco_256x192"},
            "data": {"skeleton": "lsp14", "train": [{"kind": "lsp", "path": lsp, "indices": [0, n]}]},
            "augment": augment or {}, "optim": {"lr": 2e-3},
            "schedule": {"steps": steps, "warmup_steps": 2},
            "runtime": {"batch_size": 4, "workers": 0, "device": "cpu", "out_dir": str(out_dir), "log_every": 1,
                        "checkpoint_every": 0, **runtime}}
    return config_from_dict(data)


@pytest.mark.slow
def test_tiny_run_reduces_the_loss(tmp_path):
    cfg = tiny_config(tmp_path, steps=10, augment=NO_AUG)
    torch.manual_seed(0)
    res = train(cfg, family=tiny_family(), progress=False)
    assert len(res.losses) == 10 and res.step == 10
    assert np.mean(res.losses[-3:]) < 0.7 * np.mean(res.losses[:3]), res.losses
    rows = (tmp_path / "train.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,lr,loss,images_per_s" and len(rows) == 11
    assert res.checkpoint == latest_checkpoint(tmp_path) and res.images_per_s > 0


def test_resume_reproduces_the_uninterrupted_losses_exactly(tmp_path):
    aug = {"rotate_prob": 1.0, "shift_prob": 1.0}  # augmentation on: its draws must resume too
    straight = train(tiny_config(tmp_path / "a", steps=4, ema=True, augment=aug), family=tiny_family(),
                     progress=False)
    first = train(tiny_config(tmp_path / "b", steps=4, ema=True, augment=aug), family=tiny_family(), max_steps=2,
                  progress=False)
    assert first.step == 2 and first.checkpoint.name == "step_0000002.pt"
    resumed = train(tiny_config(tmp_path / "b", steps=4, ema=True, augment=aug, resume=str(first.checkpoint)),
                    family=tiny_family(), progress=False)
    assert len(straight.losses) == 4 and first.losses + resumed.losses == straight.losses  # bit for bit on CPU
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    for part in ("model", "ema", "optimizer"):
        sa, sb = (a[part]["state"], b[part]["state"]) if part == "optimizer" else (a[part], b[part])
        for k, v in sa.items():
            if isinstance(v, dict):
                assert all(torch.equal(t, sb[k][n]) for n, t in v.items()), (part, k)
            else:
                assert torch.equal(v, sb[k]), (part, k)
    assert a["meta"]["step"] == b["meta"]["step"] == 4


def test_checkpoints_are_weights_only_atomic_and_reload_into_the_model(tmp_path):
    cfg = tiny_config(tmp_path, steps=2, checkpoint_every=1)
    res = train(cfg, family=tiny_family(), progress=False)
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == ["step_0000001.pt", "step_0000002.pt"]  # no temporary files left behind
    raw = torch.load(res.checkpoint, map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "ema", "scaler", "rng", "meta"} <= set(raw)
    ck = load_checkpoint(res.checkpoint)
    again = tiny_config(tmp_path, steps=2)
    again = config_from_dict({**again.to_dict(), "model": {"name": again.model.name, "weights": str(res.checkpoint)}})
    model, _, _ = build_train_model(again, family=tiny_family())
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck["model"][k]), k
    with pytest.raises(ValueError, match="not a posekit training checkpoint"):
        torch.save({"x": torch.zeros(1)}, tmp_path / "other.pt")
        load_checkpoint(tmp_path / "other.pt")


def test_official_weights_load_and_the_head_is_rebuilt_for_lsp(tmp_path):
    """A COCO (17 keypoint) checkpoint in MMPose's layout: everything but the last conv is kept for LSP's 14."""
    coco_model, _ = tiny_family(coco17)()
    torch.manual_seed(3)
    for p in coco_model.parameters():
        p.data.normal_()
    torch.save({"state_dict": coco_model.state_dict(), "meta": {"epoch": 210}}, tmp_path / "official.pth")
    cfg = tiny_config(tmp_path, steps=1)
    base = {**cfg.to_dict(), "data": {**cfg.to_dict()["data"], "skeleton": "lsp14"}}
    for srcnn, freeze in ((False, False), (True, True)):
        c = config_from_dict({**base, "model": {"name": cfg.model.name, "weights": str(tmp_path / "official.pth"),
                                                "srcnn": srcnn, "freeze_backbone": freeze}})
        model, codec, skeleton = build_train_model(c, family=tiny_family(coco17))
        assert skeleton is lsp14 and model.spec.skeleton is lsp14
        sd, ref = model.state_dict(), coco_model.state_dict()
        prefix = "head.head." if srcnn else "head."
        assert sd[prefix + "final_layer.weight"].shape[0] == 14
        assert not torch.equal(sd[prefix + "final_layer.weight"], ref["head.final_layer.weight"][:14])
        for k in ref:
            if k.startswith("backbone.") or k.startswith("head.deconv"):
                assert torch.equal(sd[k if k.startswith("backbone.") else prefix + k[5:]], ref[k]), k
        assert all(not p.requires_grad for p in model.backbone.parameters()) == freeze
        fine = tuple(2 * s for s in codec.heatmap_size)
        assert model.spec.codec.heatmap_size == (fine if srcnn else codec.heatmap_size)
        out = model.eval()(torch.zeros(1, 3, 96, 64))
        assert out.shape == (1, 14, *reversed(model.spec.codec.heatmap_size))


def test_srcnn_and_bf16_run_on_cpu_and_fp16_is_refused(tmp_path):
    cfg = tiny_config(tmp_path, steps=1, precision="bf16")
    cfg = config_from_dict({**cfg.to_dict(), "model": {"name": cfg.model.name, "srcnn": True}})
    res = train(cfg, family=tiny_family(), progress=False)
    assert len(res.losses) == 1 and np.isfinite(res.losses[0])
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        train(tiny_config(tmp_path, steps=1, precision="fp16"), family=tiny_family(), progress=False)


def test_data_order_is_a_function_of_the_step():
    full = list(StepSampler(20, batch_size=4, total_steps=12, seed=1))
    assert len(full) == 48 and all(0 <= i < 20 for _, i in full)
    epoch0 = [i for e, i in full[:20]]
    assert sorted(epoch0) == list(range(20)) and [e for e, _ in full[:20]] == [0] * 20
    assert list(StepSampler(20, batch_size=4, total_steps=12, start_step=7, seed=1)) == full[28:]
    ranks = [list(StepSampler(20, batch_size=2, total_steps=12, rank=r, world_size=2, seed=1)) for r in (0, 1)]
    for step in range(12):  # rank slices of a global batch are the single-process batch
        assert ranks[0][2 * step:2 * step + 2] + ranks[1][2 * step:2 * step + 2] == full[4 * step:4 * step + 4]


def test_training_items_depend_only_on_epoch_and_index():
    samples = load_samples(tiny_config("unused").data.train)[:4]
    model, codec, _ = build_train_model(tiny_config("unused"), family=tiny_family())
    from posekit.data.augment import TopdownAugment

    aug = TopdownAugment.for_skeleton(lsp14, input_size=codec.input_size)
    ds = PoseDataset(samples, codec=codec, input_size=codec.input_size, augment=aug, seed=5)
    cached = PoseDataset(samples, codec=codec, input_size=codec.input_size, augment=aug, seed=5, cache_images=True)
    a, b, c = ds[(2, 3)], ds[(0, 0)], cached[(2, 3)]
    for k in a:
        assert torch.equal(a[k], c[k]) and torch.equal(a[k], ds[(2, 3)][k])
    assert not torch.equal(ds[(3, 3)]["image"], a["image"])
    assert a["image"].shape == (3, 96, 64) and a["image"].dtype == torch.uint8
    assert a["target"].shape == (14, 24, 16) and a["weight"].shape == (14,)
    with pytest.raises(KeyError, match=r"\(epoch, index\)"):
        ds[0]


def test_lr_schedule():
    cos = ScheduleConfig(kind="cosine", warmup_steps=10, warmup_factor=0.1, min_lr_factor=0.0)
    assert lr_factor(0, cos, 100) == pytest.approx(0.1)
    assert lr_factor(5, cos, 100) == pytest.approx(0.55 * 0.5 * (1 + np.cos(np.pi * 0.05)))
    assert lr_factor(50, cos, 100) == pytest.approx(0.5) and lr_factor(100, cos, 100) == pytest.approx(0.0)
    step = ScheduleConfig(kind="step", warmup_steps=0, milestones=(0.5, 0.8), gamma=0.1)
    assert [lr_factor(s, step, 100) for s in (0, 49, 50, 80, 99)] == pytest.approx([1, 1, 0.1, 0.01, 0.01])


def _posekit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posekit.cli", "train", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ})


@pytest.mark.parametrize("args, message", [
    (["recipes/lsp_simplebaseline_r50.yaml", "optim.lrr=1"], "unknown key 'optim.lrr'; did you mean optim.lr?"),
    (["recipes/lsp_simplebaseline_r50.yaml", "optim.lr=fast"], "optim.lr: expected float, got 'fast'"),
    (["recipes/lsp_simplebaseline_r50.yaml", "model.name=hrnet_w23_coco_256x192"],
     "did you mean hrnet_w32_coco_256x192"),
    (["recipes/lsp_simplebaseline_r50.yaml", "runtime.batchsize=8"], "did you mean runtime.batch_size?"),
    (["recipes/missing.yaml"], "config file not found"),
    (["recipes/lsp_simplebaseline_r50.yaml", "--resume", "runtime.out_dir=/nonexistent/run"],
     "no checkpoint to resume"),
])
def test_cli_config_errors_exit_2_with_a_clear_message(args, message):
    res = _posekit(*args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr and "Traceback" not in res.stderr
