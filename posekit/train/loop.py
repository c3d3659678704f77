"""The training loop: explicit, one function (:func:`train`) reading top to bottom.

One step: a global batch (``runtime.batch_size`` per process) -> normalise ``(rgb - mean) / std`` -> forward under
autocast (``bf16`` on CPU or GPU, ``fp16`` on GPU with a gradient scaler) -> heatmap MSE against the codec targets
(plus the same loss on the refined map for the SRCNN head) -> backward -> optional gradient-norm clipping -> AdamW
step with the learning rate of :func:`lr_factor` -> optional EMA update. Every ``log_every`` steps a CSV row
(``train.csv``; TensorBoard too when the ``tensorboard`` package is installed); every ``val_every`` steps and at
the end a validation (PCK, :func:`evaluate`) on rank 0, written to ``val.csv``, the best by ``pck_bbox@0.2`` kept
as ``best.pt``; every ``checkpoint_every`` steps and at the end a checkpoint.

DDP: launched by ``torchrun --nproc_per_node N -m posekit.cli train ...`` (``WORLD_SIZE`` > 1 in the
environment) the loop joins the process group (NCCL on GPU, gloo on CPU), wraps the model in
``DistributedDataParallel`` and reads its slice of each global batch (:class:`~posekit.train.data.StepSampler`).
BatchNorm statistics stay per process (as MMPose without SyncBN).

Checkpoints (``checkpoints/step_0001000.pt``) are written to a temporary file and moved into place with
``os.replace`` (a crash never leaves a half-written file), hold only tensors and plain containers (``model``,
``optimizer``, ``ema``, ``scaler``, ``rng`` and a JSON ``meta`` string) and are read with
``torch.load(weights_only=True)``. Resuming restores all of it; the data order and augmentation are functions of
the step (:mod:`posekit.train.data`), so on CPU a resumed run reproduces the uninterrupted run's losses exactly.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from posekit.io.atomic import atomic_destination
from posekit.train.losses import heatmap_mse_loss

__all__ = ["TrainResult", "evaluate", "latest_checkpoint", "load_checkpoint", "lr_factor", "save_checkpoint", "train"]


@dataclass(frozen=True)
class TrainResult:
    """What a run produced.

    Attributes:
        out_dir: the run folder.
        step: the last completed optimizer step.
        total_steps: the schedule's length.
        losses: the training loss of every step run by this call (global-batch mean), in order.
        checkpoint: the last checkpoint written.
        best_checkpoint: ``best.pt`` (best validation ``pck_bbox@0.2``), or None without validation.
        metrics: the last validation's metrics (empty without validation).
        images_per_s: training throughput of this call (global images per second, validation excluded).
    """

    out_dir: Path
    step: int
    total_steps: int
    losses: tuple[float, ...]
    checkpoint: Path
    best_checkpoint: Path | None
    metrics: dict[str, float]
    images_per_s: float


def lr_factor(step: int, schedule: Any, total_steps: int) -> float:
    """Learning-rate multiplier at (0-based) ``step``: linear warm-up from ``warmup_factor`` over
    ``warmup_steps`` times cosine decay to ``min_lr_factor`` at ``total_steps`` (or ``gamma`` at each milestone
    fraction for ``kind='step'``)."""
    warm = 1.0
    if step < schedule.warmup_steps:
        warm = schedule.warmup_factor + (1.0 - schedule.warmup_factor) * step / schedule.warmup_steps
    t = min(step / max(total_steps, 1), 1.0)
    if schedule.kind == "cosine":
        decay = schedule.min_lr_factor + (1.0 - schedule.min_lr_factor) * 0.5 * (1.0 + math.cos(math.pi * t))
    else:
        decay = schedule.gamma ** sum(t >= m for m in schedule.milestones)
    return warm * decay


# ----------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (temporary file in the same folder + ``os.replace``)."""
    path = Path(path)
    with atomic_destination(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint of :func:`save_checkpoint` (``torch.load(weights_only=True)``), with ``meta`` decoded."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "meta" not in state or "model" not in state:
        raise ValueError(f"{path} is not a posekit training checkpoint (no 'model' / 'meta' entries)")
    state["meta"] = json.loads(state["meta"])
    return state


def latest_checkpoint(out_dir: str | os.PathLike) -> Path:
    """The highest-step ``checkpoints/step_*.pt`` of a run folder (FileNotFoundError when there is none)."""
    found = sorted(Path(out_dir, "checkpoints").glob("step_*.pt"))
    if not found:
        raise FileNotFoundError(f"no checkpoint to resume in {str(Path(out_dir, 'checkpoints'))!r}")
    return found[-1]


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ validation


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Any, *, device: torch.device, torso: tuple[int, int] | None = None
             ) -> dict[str, float]:
    """PCK of ``model`` (with ``model.spec``) on a validation loader of :class:`~posekit.train.data.PoseDataset`.

    Predictions come from :class:`posekit.pipelines.topdown.TopDownEstimator` (the inference path, flip test off)
    on the GT-box crops, in image pixels. Metrics (fractions): ``pck_bbox@{0.05,0.1,0.2}`` normalised by the
    longer side of the tight box around the GT joints, ``pck_torso@{0.1,0.2}`` by the GT ``torso`` joint distance
    (when given), ``epe_px`` mean pixel error, over labelled joints."""
    from posekit.metrics.pck import bbox_size, epe, pck, torso_size
    from posekit.pipelines.topdown import TopDownEstimator

    est = TopDownEstimator(model, spec=model.spec, device=device, batch_size=loader.batch_size, flip_test=False)
    preds, gts, vis = [], [], []
    for batch in loader:
        kp, _ = est.predict_inputs(batch["image"], batch["center"].numpy(), batch["scale"].numpy(), normalized=False)
        preds.append(kp)
        gts.append(batch["keypoints"].numpy())
        vis.append(batch["visible"].numpy())
    pred, gt, visible = np.concatenate(preds), np.concatenate(gts), np.concatenate(vis)
    filled = np.where(np.isfinite(gt), gt, np.nan)
    tight = np.concatenate([np.nanmin(filled, axis=1), np.nanmax(filled, axis=1)], axis=1)
    out = {f"pck_bbox@{t}": pck(pred, gt, visible, threshold=t, normalize=bbox_size(tight)).mean
           for t in (0.05, 0.1, 0.2)}
    if torso is not None:
        size = torso_size(np.nan_to_num(gt), first=torso[0], second=torso[1])
        for t in (0.1, 0.2):
            out[f"pck_torso@{t}"] = pck(pred, gt, visible, threshold=t, normalize=size).mean
    out["epe_px"] = epe(pred, gt, visible)
    return {k: float(v) for k, v in out.items()}


def _torso(skeleton: Any) -> tuple[int, int] | None:
    names = list(skeleton.keypoints)
    if "left_shoulder" in names and "right_hip" in names:
        return names.index("left_shoulder"), names.index("right_hip")
    return None


# ------------------------------------------------------------------------------------------------------ loop


def _device(spec: str, local_rank: int) -> torch.device:
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        spec = f"cuda:{local_rank}"
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"runtime.device={spec!r} but CUDA is not available; use runtime.device=cpu")
    return dev


def _ema_update(ema: dict[str, torch.Tensor], model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                ema[k].lerp_(v, 1.0 - decay)
            else:
                ema[k].copy_(v)


def _csv_row(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def _tensorboard(out_dir: Path, note: Callable[[str], None]) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        note("tensorboard is not installed: logging to CSV only (pip install tensorboard for TensorBoard logs)")
        return None
    return SummaryWriter(str(out_dir / "tb"))


def train(cfg: Any, *, family: Callable[[], Any] | None = None, max_steps: int | None = None,
          progress: bool = True, note: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume, ``cfg.runtime.resume``) the training described by ``cfg`` (a
    :class:`~posekit.train.config.TrainConfig`).

    Args:
        cfg: the run.
        family: architecture builder replacing the zoo entry (see :func:`posekit.train.model.build_train_model`).
        max_steps: stop after this step (a checkpoint is written there) while keeping the schedule of the full
            run; None = run to the end.
        progress: show a progress bar (rank 0).
        note: where status lines go (default: stderr on rank 0).

    Returns:
        :class:`TrainResult`.
    """
    from posekit import skeletons as tables
    from posekit.data.augment import TopdownAugment
    from posekit.train.data import PoseDataset, StepSampler, load_samples, make_loader
    from posekit.train.model import TrainForward, build_train_model, refined_codec

    rt = cfg.runtime
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(rt.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    main = rank == 0
    say = note or (lambda s: print(s, file=sys.stderr) if main else None)
    if rt.precision == "fp16" and device.type != "cuda":
        raise ValueError("runtime.precision=fp16 needs a CUDA device; use bf16 on CPU")
    out_dir = Path(rt.out_dir)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")

    table = getattr(tables, cfg.data.skeleton) if cfg.data.skeleton else None
    train_samples = load_samples(cfg.data.train, skeleton=table)
    val_samples = load_samples(cfg.data.val, skeleton=table) if cfg.data.val and main else []
    torch.manual_seed(rt.seed)
    model, codec, skeleton = build_train_model(cfg, skeleton=train_samples[0].skeleton, family=family)
    model.to(device)
    spec = model.spec
    fine = refined_codec(codec, 2) if cfg.model.srcnn else None
    aug = TopdownAugment.for_skeleton(skeleton, input_size=codec.input_size, options=cfg.augment, udp=spec.udp,
                                      half_pixel=False)
    train_set = PoseDataset(train_samples, codec=codec, input_size=codec.input_size, augment=aug,
                            refine_codec=fine, seed=rt.seed)
    spe = len(train_set) // (rt.batch_size * world)
    total = cfg.schedule.steps or cfg.schedule.epochs * max(spe, 1)

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.optim.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.optim.lr, betas=cfg.optim.betas)
    scaler = torch.amp.GradScaler("cuda") if rt.precision == "fp16" else None
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if rt.ema else None
    step, best, meta_best_step = 0, -math.inf, None
    if rt.resume:
        ck = load_checkpoint(rt.resume)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if ema is not None and ck.get("ema"):
            ema = {k: v.to(device) for k, v in ck["ema"].items()}
        if scaler is not None and ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        _set_rng_state(ck["rng"])
        step, best, meta_best_step = ck["meta"]["step"], ck["meta"]["best"], ck["meta"]["best_step"]
        say(f"resumed from {rt.resume} at step {step}")
    net = TrainForward(model).train()
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                                        else None)
    sampler = StepSampler(len(train_set), batch_size=rt.batch_size, total_steps=total, start_step=step,
                          rank=rank, world_size=world, seed=rt.seed)
    loader = make_loader(train_set, batch_size=rt.batch_size, sampler=sampler, workers=rt.workers, seed=rt.seed,
                         pin_memory=device.type == "cuda")
    val_loader = None
    if val_samples:
        val_set = PoseDataset(val_samples, codec=codec, input_size=codec.input_size, padding=spec.padding,
                              udp=spec.udp, seed=rt.seed)
        val_loader = make_loader(val_set, batch_size=rt.batch_size, workers=rt.workers, seed=rt.seed)
    writer = _tensorboard(out_dir, say) if main else None
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(rt.precision)
    stop = total if max_steps is None else min(total, int(max_steps))
    losses: list[float] = []
    metrics: dict[str, float] = {}
    last_ckpt = None
    bar = None
    if main and progress:
        from tqdm import tqdm

        bar = tqdm(total=stop, initial=step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def checkpoint() -> Path:
        meta = {"step": step, "total_steps": total, "best": best, "best_step": meta_best_step, "world_size": world,
                "model_name": cfg.model.name, "skeleton": skeleton.name, "input_size": list(codec.input_size)}
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "ema": ema or {},
                 "scaler": scaler.state_dict() if scaler else {}, "rng": _rng_state(), "meta": json.dumps(meta)}
        return save_checkpoint(out_dir / "checkpoints" / f"step_{step:07d}.pt", state)

    def validate() -> None:
        nonlocal best, meta_best_step, metrics
        eval_model = copy.deepcopy(model)
        if ema is not None:
            eval_model.load_state_dict(ema)
        metrics = evaluate(eval_model.eval(), val_loader, device=device, torso=_torso(skeleton))
        _csv_row(out_dir / "val.csv", {"step": step, **{k: f"{v:.6f}" for k, v in metrics.items()}})
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, step)
        say(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if metrics["pck_bbox@0.2"] > best:
            best, meta_best_step = metrics["pck_bbox@0.2"], step
            save_checkpoint(out_dir / "best.pt", {"model": eval_model.state_dict(), "meta": json.dumps(
                {"step": step, "metrics": metrics, "model_name": cfg.model.name, "skeleton": skeleton.name,
                 "input_size": list(codec.input_size), "srcnn": cfg.model.srcnn})})

    t0, seen = time.perf_counter(), 0
    for batch in loader:
        if step >= stop:
            break
        for group in opt.param_groups:
            group["lr"] = cfg.optim.lr * lr_factor(step, cfg.schedule, total)
        x = (batch["image"].to(device, non_blocking=True).float() - mean) / std
        weight = batch["weight"].to(device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            outputs = net(x)
        loss_coarse = heatmap_mse_loss(outputs[0], batch["target"].to(device), weight)
        loss = loss_coarse
        if len(outputs) > 1:
            loss = loss + heatmap_mse_loss(outputs[1], batch["target_fine"].to(device), weight)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        if rt.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], rt.grad_clip)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if ema is not None:
            _ema_update(ema, model, min(rt.ema_decay, (1 + step) / (10 + step)))
        step += 1
        seen += x.shape[0] * world
        value = loss.detach()
        if world > 1:
            dist.all_reduce(value)
            value = value / world
        losses.append(float(value))
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3e}", img_s=f"{rate:.1f}")
        if main and (step % max(rt.log_every, 1) == 0 or step == stop):
            lr = opt.param_groups[0]["lr"]
            _csv_row(out_dir / "train.csv", {"step": step, "epoch": f"{step / max(spe, 1):.3f}", "lr": f"{lr:.6g}",
                                             "loss": f"{losses[-1]:.6e}", "images_per_s": f"{rate:.2f}"})
            if writer is not None:
                writer.add_scalar("train/loss", losses[-1], step)
                writer.add_scalar("train/lr", lr, step)
        if main and val_loader is not None and rt.val_every and step % rt.val_every == 0 and step != stop:
            tv = time.perf_counter()
            validate()
            t0 += time.perf_counter() - tv  # throughput excludes validation
        if main and rt.checkpoint_every and step % rt.checkpoint_every == 0 and step != stop:
            last_ckpt = checkpoint()
    rate = seen / max(time.perf_counter() - t0, 1e-9)
    if bar is not None:
        bar.close()
    if main:
        if val_loader is not None:
            validate()
        last_ckpt = checkpoint()
        say(f"finished step {step}/{total}: {rate:.1f} images/s; checkpoint {last_ckpt}")
    if writer is not None:
        writer.close()
    if world > 1:
        dist.barrier()
    best_path = out_dir / "best.pt" if val_loader is not None else None
    return TrainResult(out_dir, step, total, tuple(losses), last_ckpt or out_dir, best_path, metrics, rate)
