"""DDP on CPU (gloo, 2 processes) matches one process with the same global batch.

The model is a tiny ViTPose-simple (LayerNorm only): BatchNorm statistics are per process under DDP (as in MMPose
without SyncBN), so a BatchNorm model legitimately differs from one process on the whole batch.
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from posekit.models.vitpose import vitpose
from posekit.skeletons import lsp14
from posekit.train.config import config_from_dict
from posekit.train.loop import load_checkpoint, train
from tests.conftest import shared_path

ARCH = {"embed_dims": 32, "num_layers": 2, "num_heads": 2, "feedforward_channels": 64}
GLOBAL_BATCH = 4


def family():
    return vitpose(ARCH, decoder="simple", skeleton=lsp14)


def config(out_dir, lsp, *, batch_size, steps=2):
    return config_from_dict({
        "model": {"name": "vitpose_s_coco_256x192"},
        "data": {"skeleton": "lsp14", "train": [{"kind": "lsp", "path": lsp, "indices": [0, 8]}]},
        "schedule": {"steps": steps, "warmup_steps": 1}, "optim": {"lr": 1e-3},
        "runtime": {"batch_size": batch_size, "workers": 0, "device": "cpu", "out_dir": str(out_dir),
                    "checkpoint_every": 0, "log_every": 1, "grad_clip": 1.0}})


def first_batch_gradients(cfg, rank, world):
    """Gradients of the loop's loss on step 0's batch of this rank (the loop's own data and forward pieces)."""
    from posekit.data.augment import TopdownAugment
    from posekit.train.data import PoseDataset, StepSampler, load_samples
    from posekit.train.losses import heatmap_mse_loss
    from posekit.train.model import TrainForward, build_train_model

    torch.manual_seed(cfg.runtime.seed)
    model, codec, skeleton = build_train_model(cfg, family=family)
    aug = TopdownAugment.for_skeleton(skeleton, input_size=codec.input_size, udp=True)
    ds = PoseDataset(load_samples(cfg.data.train), codec=codec, input_size=codec.input_size, augment=aug)
    keys = list(StepSampler(len(ds), batch_size=cfg.runtime.batch_size, total_steps=1, rank=rank,
                            world_size=world))
    items = [ds[k] for k in keys]
    x = torch.stack([it["image"] for it in items]).float()
    x = (x - torch.tensor(model.spec.mean).view(1, 3, 1, 1)) / torch.tensor(model.spec.std).view(1, 3, 1, 1)
    net = TrainForward(model)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net)
    loss = heatmap_mse_loss(net(x)[0], torch.stack([it["target"] for it in items]),
                            torch.stack([it["weight"] for it in items]))
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}, keys


def _worker(rank, world, port, lsp, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cfg = config(out_dir, lsp, batch_size=GLOBAL_BATCH // world)
        grads, keys = first_batch_gradients(cfg, rank, world)
        torch.save({"grads": grads, "keys": keys}, os.path.join(out_dir, f"grads_{rank}.pt"))
        res = train(cfg, family=family, progress=False)
        torch.save({"losses": torch.tensor(res.losses, dtype=torch.float64)}, os.path.join(out_dir, f"res_{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    lsp = str(shared_path("data", "lsp"))
    (tmp_path / "ddp").mkdir()
    mp.spawn(_worker, args=(2, _free_port(), lsp, str(tmp_path / "ddp")), nprocs=2, join=True)
    single_cfg = config(tmp_path / "single", lsp, batch_size=GLOBAL_BATCH)
    grads, keys = first_batch_gradients(single_cfg, 0, 1)
    parts = [torch.load(tmp_path / "ddp" / f"grads_{r}.pt", weights_only=True) for r in (0, 1)]
    assert [tuple(k) for k in parts[0]["keys"] + parts[1]["keys"]] == keys  # the ranks split the global batch
    for name, g in grads.items():
        for part in parts:  # DDP averages: every rank holds the global-batch gradient
            torch.testing.assert_close(part["grads"][name], g, rtol=1e-5, atol=1e-6, msg=name)
    single = train(single_cfg, family=family, progress=False)
    losses = torch.load(tmp_path / "ddp" / "res_0.pt", weights_only=True)["losses"].numpy()
    np.testing.assert_allclose(losses, single.losses, rtol=1e-5, atol=1e-6)
    a = load_checkpoint(single.checkpoint)["model"]
    b = load_checkpoint(sorted((tmp_path / "ddp" / "checkpoints").glob("step_*.pt"))[-1])["model"]
    for k in a:  # after two AdamW steps with clipping, on the same global batches
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
