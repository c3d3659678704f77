"""Explicit key maps for foreign (official MMPose) checkpoints, and strict loading with clear errors.

Sources:

* ``"mmpose"``: MMPose >= 1.0 ``state_dict`` (``backbone.*``, ``neck.*``, ``head.*``); keys are used as
  they are (a DDP ``module.`` prefix is dropped).
* ``"mmpose_v0"``: MMPose 0.x checkpoints (e.g. the official MPII SimpleBaseline, the 3D lifters), as
  MMPose 1.3.2's load hooks convert them:
  ``keypoint_head.`` -> ``head.`` (``BasePoseEstimator._load_state_dict_pre_hook``) and, inside the head,
  0.x ``final_layer.{n}.{param}`` (intermediate convs and the final conv in one Sequential) ->
  ``conv_layers.{n}.{param}`` when ``n < len(head.conv_layers)``, else ``final_layer.{param}``
  (``HeatmapHead._load_state_dict_pre_hook``). ``final_layer.{param}`` stays as it is.

The input ``state_dict`` is never modified; tensors are copied into the model by ``load_state_dict``
(fp16 checkpoints load into fp32 parameters).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["SOURCES", "load_official", "remap_state_dict"]

SOURCES = ("mmpose", "mmpose_v0")


def _num_conv_layers(model: nn.Module) -> int:
    head = getattr(model, "head", None)
    conv_layers = getattr(head, "conv_layers", None)
    return len(conv_layers) if isinstance(conv_layers, nn.Sequential) else 0


def _v0_head_key(key: str, num_conv: int) -> str:
    parts = key.split(".")  # head.final_layer.{n}.{param}
    if len(parts) == 4 and parts[:2] == ["head", "final_layer"] and parts[2].isdigit():
        if int(parts[2]) < num_conv:
            return ".".join(["head", "conv_layers", *parts[2:]])
        return f"head.final_layer.{parts[3]}"
    return key


def remap_state_dict(
    state_dict: Mapping[str, torch.Tensor], *, source: str, model: nn.Module | None = None
) -> dict[str, torch.Tensor]:
    """A new ``{key: tensor}`` dict with ``source``'s keys renamed to posekit's (= MMPose 1.x) names.

    ``model`` is needed for ``"mmpose_v0"`` checkpoints whose head has intermediate convs (it tells how
    many of the 0.x ``final_layer.{n}`` entries are ``conv_layers``).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    num_conv = _num_conv_layers(model) if model is not None else 0
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key[len("module.") :] if key.startswith("module.") else key
        if source == "mmpose_v0":
            if new.startswith("keypoint_head."):
                new = "head." + new[len("keypoint_head.") :]
            new = _v0_head_key(new, num_conv)
        if new in out:
            raise ValueError(f"checkpoint keys collide after remapping: {key!r} -> {new!r}")
        out[new] = value
    return out


def _mismatch_report(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> str:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state_dict.items()
        if k in expected and isinstance(v, torch.Tensor) and tuple(v.shape) != tuple(expected[k].shape)
    ]
    parts = []
    if missing:
        parts.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if shapes:
        parts.append(f"shape mismatches ({len(shapes)}): {'; '.join(shapes)}")
    return "\n".join(parts)


def load_official(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Remap ``state_dict`` (see :func:`remap_state_dict`) and load it into ``model`` with ``strict=True``.

    Args:
        model: e.g. a :class:`posekit.models.topdown.TopdownModel` built with the checkpoint's config.
        state_dict: the checkpoint's ``state_dict`` (``checkpoint['state_dict']``; unwrap it first).
        source: ``"mmpose"`` (1.x) or ``"mmpose_v0"`` (0.x, ``keypoint_head.`` prefix).

    Raises:
        ValueError: naming every missing key, unexpected key and shape mismatch (checkpoint vs model).
    """
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"state_dict must be a mapping of key -> tensor, got {type(state_dict).__name__}")
    remapped = remap_state_dict(state_dict, source=source, model=model)
    report = _mismatch_report(model, remapped)
    if report:
        raise ValueError(f"checkpoint (source={source!r}) does not match {type(model).__name__}:\n{report}")
    try:
        model.load_state_dict(remapped, strict=True)
    except RuntimeError as err:  # e.g. a non-tensor value
        name = type(model).__name__
        raise ValueError(f"checkpoint (source={source!r}) could not be loaded into {name}: {err}") from err
