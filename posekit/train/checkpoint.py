"""Training checkpoints: atomic, weights-only files and the global RNG states a bit-exact resume needs.

A checkpoint (``checkpoints/step_0001000.pt`` of a run folder, written by :func:`posekit.train.loop.train`) is
written to a temporary file and moved into place with ``os.replace`` (a crash never leaves a half-written file),
holds only tensors and plain containers (``model``, ``optimizer``, ``ema``, ``scaler``, ``rng`` and a JSON
``meta`` string) and is read with ``torch.load(weights_only=True)``. The RNG states are stored as tensors and
plain lists (:func:`rng_state`) so that they pass the weights-only loader.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.io.atomic import atomic_destination

__all__ = ["checkpoint_state", "latest_checkpoint", "load_checkpoint", "restore_checkpoint", "rng_state",
           "save_checkpoint", "set_rng_state"]


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


def rng_state() -> dict[str, Any]:
    """The global torch, Python, NumPy (and CUDA, when available) RNG states, as tensors and plain containers."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the global RNG states of :func:`rng_state` (as read back from a checkpoint)."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_state(*, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler | None, ema: dict[str, torch.Tensor] | None,
                     meta: dict[str, Any]) -> dict[str, Any]:
    """What a training checkpoint holds: the state dicts of ``model``, ``optimizer`` and ``scaler`` (``{}``
    without one), the EMA weights (``{}`` without), the global RNG states and ``meta`` as a JSON string."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "ema": ema or {},
            "scaler": scaler.state_dict() if scaler else {}, "rng": rng_state(), "meta": json.dumps(meta)}


def restore_checkpoint(path: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       scaler: torch.amp.GradScaler | None, ema: dict[str, torch.Tensor] | None,
                       device: torch.device) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
    """Load the checkpoint at ``path`` into ``model``, ``optimizer`` and ``scaler`` (in place) and the global RNGs.
    Returns the EMA weights to continue with (the checkpoint's, on ``device``, when both keep one; else ``ema``)
    and the checkpoint's decoded ``meta``."""
    ck = load_checkpoint(path)
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    if ema is not None and ck.get("ema"):
        ema = {k: v.to(device) for k, v in ck["ema"].items()}
    if scaler is not None and ck.get("scaler"):
        scaler.load_state_dict(ck["scaler"])
    set_rng_state(ck["rng"])
    return ema, ck["meta"]
