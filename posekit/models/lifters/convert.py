"""Key map for checkpoints of the original VideoPose3D repository (facebookresearch/VideoPose3D).

The original ``run.py`` saves ``{'epoch', 'lr', 'random_state', 'optimizer', 'model_pos': state_dict,
'model_traj': state_dict (semi-supervised runs only)}``. Its ``TemporalModel`` (dilated) and
``TemporalModelOptimized1f`` (strided) share one state_dict layout; with ``B`` blocks:

===================================  ==================================================
original ``model_pos`` key           posekit / MMPose 1.x key
===================================  ==================================================
``expand_conv.weight``               ``backbone.expand_conv.conv.weight``
``expand_bn.{p}``                    ``backbone.expand_conv.bn.{p}``
``layers_conv.{2i}.weight``          ``backbone.tcn_blocks.{i}.conv1.0.conv.weight``
``layers_bn.{2i}.{p}``               ``backbone.tcn_blocks.{i}.conv1.0.bn.{p}``
``layers_conv.{2i+1}.weight``        ``backbone.tcn_blocks.{i}.conv2.0.conv.weight``
``layers_bn.{2i+1}.{p}``             ``backbone.tcn_blocks.{i}.conv2.0.bn.{p}``
``shrink.{weight,bias}``             ``head.conv.{weight,bias}``
===================================  ==================================================

(``{p}`` = ``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``; ``i`` = 0..B-1.)
``model_traj`` maps the same way onto ``traj_backbone.*`` / ``traj_head.*``. A ``module.`` prefix
(``nn.DataParallel``) is dropped. Tensors are used as they are: both implementations order input channels
``2k + c`` (joint k, coordinate c) and output channels ``3j + c``, and use the same conv/BN arithmetic, so no
weight is permuted. Models built with ``--dense`` (kernel ``2 * pad + 1`` without dilation) have other conv
shapes and are not supported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from posekit.models.convert import guess_source, load_official
from posekit.models.weights import load_checkpoint

__all__ = [
    "remap_videopose3d_original", "videopose3d_original_state_dict", "load_videopose3d_original",
    "load_lifter_weights",
]

_LAYER = re.compile(r"layers_(conv|bn)\.(\d+)\.(.+)")


def _map_key(key: str, backbone: str, head: str) -> str:
    if key.startswith("expand_conv."):
        return f"{backbone}.expand_conv.conv.{key[len('expand_conv.'):]}"
    if key.startswith("expand_bn."):
        return f"{backbone}.expand_conv.bn.{key[len('expand_bn.'):]}"
    if key.startswith("shrink."):
        return f"{head}.conv.{key[len('shrink.'):]}"
    match = _LAYER.fullmatch(key)
    if match:
        kind, index, param = match.group(1), int(match.group(2)), match.group(3)
        conv = "conv1" if index % 2 == 0 else "conv2"
        sub = "conv" if kind == "conv" else "bn"
        return f"{backbone}.tcn_blocks.{index // 2}.{conv}.0.{sub}.{param}"
    raise ValueError(f"unexpected key {key!r} in an original VideoPose3D state_dict (expected expand_conv.*, "
                     "expand_bn.*, layers_conv.N.*, layers_bn.N.*, shrink.*)")


def remap_videopose3d_original(
    state_dict: Mapping[str, torch.Tensor], *, trajectory: bool = False
) -> dict[str, torch.Tensor]:
    """A new dict with one original VideoPose3D ``state_dict`` (``model_pos`` or, with ``trajectory``,
    ``model_traj``) renamed to posekit's keys (see the module docstring); the input is not modified."""
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"state_dict must be a mapping of key -> tensor, got {type(state_dict).__name__}")
    backbone, head = ("traj_backbone", "traj_head") if trajectory else ("backbone", "head")
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key[len("module."):] if key.startswith("module.") else key
        out[_map_key(name, backbone, head)] = value
    return out


def videopose3d_original_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """posekit state_dict of a whole original checkpoint: ``model_pos`` (+ ``model_traj`` when present).

    ``checkpoint`` is the dict of the ``.bin`` file (read it with ``torch.load(path, weights_only=True)``) or a
    bare ``model_pos`` state_dict.
    """
    if "model_pos" not in checkpoint:
        return remap_videopose3d_original(checkpoint)
    out = remap_videopose3d_original(checkpoint["model_pos"])
    if checkpoint.get("model_traj") is not None:
        out.update(remap_videopose3d_original(checkpoint["model_traj"], trajectory=True))
    return out


def load_videopose3d_original(model: nn.Module, checkpoint: Mapping[str, Any]) -> None:
    """Load an original VideoPose3D checkpoint (or bare ``model_pos`` state_dict) into ``model`` strictly.

    ``model`` must be built with the checkpoint's architecture (e.g. ``videopose3d(receptive_field=243)``;
    ``with_trajectory=True`` when it holds ``model_traj``). Raises ValueError naming missing/unexpected keys
    and shape mismatches.
    """
    load_official(model, videopose3d_original_state_dict(checkpoint), source="mmpose")


def load_lifter_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a lifter checkpoint file into ``model`` strictly, whatever its origin.

    * MMPose 1.x (``state_dict`` with ``backbone.*``/``head.*``) or 0.x (``keypoint_head.*``: the official
      lifter weights) files, read by :func:`posekit.models.weights.load_checkpoint` (``weights_only=True``);
    * original VideoPose3D files (a dict with ``model_pos``). The original ``run.py`` also pickles its data
      generator's ``numpy.random.RandomState`` under ``random_state``, which posekit refuses (it never unpickles);
      save the weights alone from the VideoPose3D program, ``torch.save({"model_pos": model_pos.state_dict()},
      p)`` (plus ``model_traj`` when present), or use the MMPose checkpoint of the same model.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # numpy metadata (MMPose 1.x meta) or refused objects: load_checkpoint says which
        obj = None
    if isinstance(obj, Mapping) and "model_pos" in obj:
        load_videopose3d_original(model, obj)
        return
    state_dict = load_checkpoint(path)
    load_official(model, state_dict, source=guess_source(state_dict))
