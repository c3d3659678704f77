"""The training loop: :func:`train` reads as setup -> steps (log, validate, checkpoint) -> finish, each part a
plain function over one :class:`_Run` record.

One step (:func:`_train_step`): a global batch (``runtime.batch_size`` per process) -> normalise
``(rgb - mean) / std`` -> forward under autocast (``bf16`` on CPU or GPU, ``fp16`` on GPU with a gradient scaler)
-> heatmap MSE against the codec targets (plus the same loss on the refined map for the SRCNN head) -> backward ->
optional gradient-norm clipping -> AdamW step with the learning rate of :func:`lr_factor` -> optional EMA update.
Every ``log_every`` steps a CSV row (``train.csv``; TensorBoard too when the ``tensorboard`` package is installed,
:func:`_log_step`); every ``val_every`` steps and at the end a validation (PCK,
:func:`~posekit.train.validation.evaluate`) on rank 0,
written to ``val.csv``, the best by ``pck_bbox@0.2`` kept as ``best.pt`` (:func:`_validate`); every
``checkpoint_every`` steps and at the end a checkpoint (:func:`_save`).

DDP: launched by ``torchrun --nproc_per_node N -m posekit.cli train ...`` (``WORLD_SIZE`` > 1 in the
environment) the loop joins the process group (NCCL on GPU, gloo on CPU), wraps the model in
``DistributedDataParallel`` and reads its slice of each global batch (:class:`~posekit.train.data.StepSampler`).
BatchNorm statistics stay per process (as MMPose without SyncBN).

Checkpoints (``checkpoints/step_0001000.pt``, :mod:`posekit.train.checkpoint`) are written to a temporary file and
moved into place with ``os.replace`` (a crash never leaves a half-written file), hold only tensors and plain
containers (``model``, ``optimizer``, ``ema``, ``scaler``, ``rng`` and a JSON ``meta`` string) and are read with
``torch.load(weights_only=True)``. Resuming restores all of it; the data order and augmentation are functions of
the step (:mod:`posekit.train.data`), so on CPU a resumed run reproduces the uninterrupted run's losses exactly.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from posekit import skeletons as tables
from posekit.data.augment import TopdownAugment
from posekit.train.checkpoint import (checkpoint_state, latest_checkpoint, load_checkpoint, restore_checkpoint,
                                     save_checkpoint)
from posekit.train.data import PoseDataset, StepSampler, load_samples, make_loader
from posekit.train.losses import heatmap_mse_loss
from posekit.train.model import TrainForward, build_train_model, refined_codec
from posekit.train.validation import evaluate, torso_joints

__all__ = ["TrainResult", "latest_checkpoint", "load_checkpoint", "lr_factor", "save_checkpoint", "train"]


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


@dataclass
class _Run:
    """One call of :func:`train`. :func:`_setup` fills it; afterwards only the progress fields at the end change
    (``step`` by :func:`_train_step`, ``best`` / ``best_step`` / ``metrics`` by :func:`_validate`, ``losses`` and
    ``last_checkpoint`` by :func:`train`); the model, optimizer, scaler and EMA objects are updated in place."""

    cfg: Any  # the TrainConfig
    say: Callable[[str], None]  # status lines
    device: torch.device
    world: int  # processes (WORLD_SIZE)
    main: bool  # rank 0: writes the run folder's files, validates
    out_dir: Path
    model: torch.nn.Module  # the bare model: state dicts, EMA, validation
    net: torch.nn.Module  # what a step runs: TrainForward(model), wrapped in DDP under torchrun
    codec: Any
    skeleton: Any
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None  # fp16 only
    ema: dict[str, torch.Tensor] | None  # runtime.ema only
    loader: Any  # this process's slices of the global batches, from ``step`` on
    val_loader: Any | None  # rank 0 with data.val only
    writer: Any | None  # TensorBoard SummaryWriter (rank 0, tensorboard installed)
    mean: torch.Tensor  # (1, 3, 1, 1) input normalisation
    std: torch.Tensor
    amp: torch.dtype | None  # autocast dtype (None = fp32)
    steps_per_epoch: int
    total: int  # the schedule's length
    stop: int  # where this call stops (``max_steps``)
    step: int = 0  # optimizer steps done
    best: float = -math.inf  # best validation pck_bbox@0.2 so far
    best_step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # the last validation's
    losses: list[float] = field(default_factory=list)  # of the steps run by this call
    last_checkpoint: Path | None = None


def _setup(cfg: Any, family: Callable[[], Any] | None, max_steps: int | None,
           note: Callable[[str], None] | None) -> _Run:
    """Build the :class:`_Run` of ``cfg``, in the order the global RNGs must see: the process (device, process
    group under torchrun, rank 0's ``config.yaml``), data, model (seeded with ``runtime.seed``), optimizer, scaler
    and EMA, the state of ``runtime.resume``, the DDP wrapper, the loaders and the writer.

    Reads ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK``; writes ``config.yaml`` (rank 0); seeds or restores the global
    RNGs. ValueError for fp16 off CUDA or an unavailable CUDA device."""
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

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]  # no weight decay on biases, norms
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.optim.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.optim.lr, betas=cfg.optim.betas)
    scaler = torch.amp.GradScaler("cuda") if rt.precision == "fp16" else None
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if rt.ema else None
    step, best, best_step = 0, -math.inf, None
    if rt.resume:
        ema, meta = restore_checkpoint(rt.resume, model=model, optimizer=opt, scaler=scaler, ema=ema, device=device)
        step, best, best_step = meta["step"], meta["best"], meta["best_step"]
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
    return _Run(cfg=cfg, say=say, device=device, world=world, main=main, out_dir=out_dir, model=model, net=net,
                codec=codec, skeleton=skeleton, opt=opt, scaler=scaler, ema=ema, loader=loader,
                val_loader=val_loader, writer=_tensorboard(out_dir, say) if main else None,
                mean=torch.tensor(spec.mean, device=device).view(1, 3, 1, 1),
                std=torch.tensor(spec.std, device=device).view(1, 3, 1, 1),
                amp={"bf16": torch.bfloat16, "fp16": torch.float16}.get(rt.precision), steps_per_epoch=spe,
                total=total, stop=total if max_steps is None else min(total, int(max_steps)), step=step, best=best,
                best_step=best_step)


def _train_step(run: _Run, batch: dict[str, torch.Tensor]) -> float:
    """One optimizer step at ``run.step`` on ``batch`` (this process's slice of the global batch): the schedule's
    learning rate, normalised input, forward under autocast, heatmap MSE (+ the refined map's), backward (scaled
    for fp16), optional gradient clipping, AdamW step, EMA update.

    Updates the model, optimizer, scaler and EMA in place and advances ``run.step``; returns the loss averaged over
    the global batch (all-reduced across processes)."""
    rt, step, device = run.cfg.runtime, run.step, run.device
    for group in run.opt.param_groups:
        group["lr"] = run.cfg.optim.lr * lr_factor(step, run.cfg.schedule, run.total)
    x = (batch["image"].to(device, non_blocking=True).float() - run.mean) / run.std
    weight = batch["weight"].to(device)
    with torch.autocast(device.type, dtype=run.amp, enabled=run.amp is not None):
        outputs = run.net(x)
    loss = heatmap_mse_loss(outputs[0], batch["target"].to(device), weight)
    if len(outputs) > 1:
        loss = loss + heatmap_mse_loss(outputs[1], batch["target_fine"].to(device), weight)
    run.opt.zero_grad(set_to_none=True)
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.opt)
    else:
        loss.backward()
    if rt.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_([p for p in run.model.parameters() if p.requires_grad], rt.grad_clip)
    if run.scaler is not None:
        run.scaler.step(run.opt)
        run.scaler.update()
    else:
        run.opt.step()
    if run.ema is not None:
        _ema_update(run.ema, run.model, min(rt.ema_decay, (1 + step) / (10 + step)))
    run.step = step + 1
    value = loss.detach()
    if run.world > 1:
        dist.all_reduce(value)
        value = value / run.world
    return float(value)


def _log_step(run: _Run, rate: float) -> None:
    """Rank 0's ``train.csv`` row of the last step (step, epoch, lr, loss, images/s) and its TensorBoard scalars."""
    step, loss, lr = run.step, run.losses[-1], run.opt.param_groups[0]["lr"]
    _csv_row(run.out_dir / "train.csv", {"step": step, "epoch": f"{step / max(run.steps_per_epoch, 1):.3f}",
                                         "lr": f"{lr:.6g}", "loss": f"{loss:.6e}", "images_per_s": f"{rate:.2f}"})
    if run.writer is not None:
        run.writer.add_scalar("train/loss", loss, step)
        run.writer.add_scalar("train/lr", lr, step)


def _validate(run: _Run) -> None:
    """Rank 0's validation at ``run.step`` (:func:`~posekit.train.validation.evaluate` of a copy of the model with
    the EMA weights when kept): a ``val.csv`` row, TensorBoard scalars, a status line, and ``best.pt`` when
    ``pck_bbox@0.2`` beats the best.

    Sets ``run.metrics`` and, on a new best, ``run.best`` and ``run.best_step``."""
    step, cfg = run.step, run.cfg
    eval_model = copy.deepcopy(run.model)
    if run.ema is not None:
        eval_model.load_state_dict(run.ema)
    run.metrics = metrics = evaluate(eval_model.eval(), run.val_loader, device=run.device,
                                       torso=torso_joints(run.skeleton))
    _csv_row(run.out_dir / "val.csv", {"step": step, **{k: f"{v:.6f}" for k, v in metrics.items()}})
    if run.writer is not None:
        for k, v in metrics.items():
            run.writer.add_scalar(f"val/{k}", v, step)
    run.say(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    if metrics["pck_bbox@0.2"] > run.best:
        run.best, run.best_step = metrics["pck_bbox@0.2"], step
        save_checkpoint(run.out_dir / "best.pt", {"model": eval_model.state_dict(), "meta": json.dumps(
            {"step": step, "metrics": metrics, "model_name": cfg.model.name, "skeleton": run.skeleton.name,
             "input_size": list(run.codec.input_size), "srcnn": cfg.model.srcnn})})


def _save(run: _Run) -> Path:
    """Write rank 0's ``checkpoints/step_{run.step:07d}.pt``: model, optimizer, EMA, scaler, RNG states and the JSON
    ``meta`` (step, schedule length, best so far, ...) that :func:`_setup` resumes from. Returns its path."""
    meta = {"step": run.step, "total_steps": run.total, "best": run.best, "best_step": run.best_step,
            "world_size": run.world, "model_name": run.cfg.model.name, "skeleton": run.skeleton.name,
            "input_size": list(run.codec.input_size)}
    state = checkpoint_state(model=run.model, optimizer=run.opt, scaler=run.scaler, ema=run.ema, meta=meta)
    return save_checkpoint(run.out_dir / "checkpoints" / f"step_{run.step:07d}.pt", state)


def _due(step: int, every: int, stop: int) -> bool:
    """Whether an action every ``every`` steps (0 = never) falls on ``step`` (not ``stop``: :func:`_finish`'s)."""
    return bool(every) and step % every == 0 and step != stop


def _finish(run: _Run, rate: float) -> TrainResult:
    """After the last step: rank 0's final validation and checkpoint and summary line, the writer closed, the
    processes synchronised. Returns the :class:`TrainResult` of ``run`` with throughput ``rate``."""
    if run.main:
        if run.val_loader is not None:
            _validate(run)
        run.last_checkpoint = _save(run)
        run.say(f"finished step {run.step}/{run.total}: {rate:.1f} images/s; checkpoint {run.last_checkpoint}")
    if run.writer is not None:
        run.writer.close()
    if run.world > 1:
        dist.barrier()
    best_path = run.out_dir / "best.pt" if run.val_loader is not None else None
    return TrainResult(run.out_dir, run.step, run.total, tuple(run.losses), run.last_checkpoint or run.out_dir,
                       best_path, run.metrics, rate)


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
    run, rt = _setup(cfg, family, max_steps, note), cfg.runtime
    bar = None
    if run.main and progress:
        bar = tqdm(total=run.stop, initial=run.step, unit="step", dynamic_ncols=True, file=sys.stderr)
    t0, seen = time.perf_counter(), 0  # throughput: global images per second of training
    for batch in run.loader:
        if run.step >= run.stop:
            break
        run.losses.append(_train_step(run, batch))
        seen += batch["image"].shape[0] * run.world
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{run.losses[-1]:.3e}", img_s=f"{rate:.1f}")
        if run.main and (run.step % max(rt.log_every, 1) == 0 or run.step == run.stop):
            _log_step(run, rate)
        if run.main and run.val_loader is not None and _due(run.step, rt.val_every, run.stop):
            tv = time.perf_counter()
            _validate(run)
            t0 += time.perf_counter() - tv  # throughput excludes validation
        if run.main and _due(run.step, rt.checkpoint_every, run.stop):
            run.last_checkpoint = _save(run)
    rate = seen / max(time.perf_counter() - t0, 1e-9)
    if bar is not None:
        bar.close()
    return _finish(run, rate)
