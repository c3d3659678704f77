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

* ``"vitpose_original"``: checkpoints of the original ViTPose repository (ViTAE-Transformer/ViTPose, an
  MMPose 0.x fork with its own ``ViT``): ``keypoint_head.`` handled as ``"mmpose_v0"``, and in the backbone
  ``patch_embed.proj`` -> ``patch_embed.projection``, ``blocks.{i}.norm1/norm2`` -> ``layers.{i}.ln1/ln2``,
  ``blocks.{i}.attn.{qkv,proj}`` -> ``layers.{i}.attn.{qkv,proj}``, ``blocks.{i}.mlp.fc1/fc2`` ->
  ``layers.{i}.ffn.layers.0.0/ffn.layers.1``, ``last_norm`` -> ``ln1``. Its ``pos_embed`` has one extra
  leading (class-token) row that the original forward adds to every patch
  (``x + pos_embed[:, 1:] + pos_embed[:, :1]``); it is folded in: ``pos_embed[:, 1:] + pos_embed[:, :1]``
  (a new tensor, computed in float32 and cast back to the checkpoint's dtype).

:func:`guess_source` picks the source from the keys.

The input ``state_dict`` is never modified; tensors are copied into the model by ``load_state_dict``
(fp16 checkpoints load into fp32 parameters).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import torch
from torch import nn

from posekit.models.weights import load_checkpoint, verify_sha256

__all__ = ["SOURCES", "guess_source", "load_official", "load_official_file", "remap_state_dict"]

SOURCES = ("mmpose", "mmpose_v0", "vitpose_original")


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


_VITPOSE_RENAMES = (
    ("backbone.patch_embed.proj.", "backbone.patch_embed.projection."),
    ("backbone.last_norm.", "backbone.ln1."),
)
_VITPOSE_BLOCK_RENAMES = (
    ("norm1.", "ln1."), ("norm2.", "ln2."), ("mlp.fc1.", "ffn.layers.0.0."), ("mlp.fc2.", "ffn.layers.1."),
    ("attn.qkv.", "attn.qkv."), ("attn.proj.", "attn.proj."),
)


def _vitpose_key(key: str) -> str:
    for old, new in _VITPOSE_RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    if key.startswith("backbone.blocks."):
        index, _, rest = key[len("backbone.blocks."):].partition(".")
        for old, new in _VITPOSE_BLOCK_RENAMES:
            if rest.startswith(old):
                return f"backbone.layers.{index}.{new}{rest[len(old):]}"
    return key


def _fold_cls_pos_embed(value: torch.Tensor) -> torch.Tensor:
    if value.ndim != 3 or value.shape[1] < 2:
        raise ValueError(f"original ViTPose pos_embed must have shape (1, 1 + N, C), got {tuple(value.shape)}")
    v = value.float()
    return (v[:, 1:] + v[:, :1]).to(value.dtype)


def guess_source(state_dict: Mapping[str, torch.Tensor]) -> str:
    """``"vitpose_original"`` for original-ViTPose keys (``backbone.blocks.*``), ``"mmpose_v0"`` for a
    ``keypoint_head.`` prefix, else ``"mmpose"`` (a DDP ``module.`` prefix is ignored)."""
    keys = [k[len("module."):] if k.startswith("module.") else k for k in state_dict]
    if any(k.startswith(("backbone.blocks.", "backbone.patch_embed.proj.")) for k in keys):
        return "vitpose_original"
    if any(k.startswith("keypoint_head.") for k in keys):
        return "mmpose_v0"
    return "mmpose"


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
        if source in ("mmpose_v0", "vitpose_original"):
            if new.startswith("keypoint_head."):
                new = "head." + new[len("keypoint_head.") :]
            new = _v0_head_key(new, num_conv)
        if source == "vitpose_original":
            new = _vitpose_key(new)
            if new == "backbone.pos_embed":
                value = _fold_cls_pos_embed(value)
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
        source: ``"mmpose"`` (1.x), ``"mmpose_v0"`` (0.x, ``keypoint_head.`` prefix) or ``"vitpose_original"``
            (the original ViTPose repository); :func:`guess_source` picks one from the keys.

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


def load_official_file(model: nn.Module, path: str | os.PathLike[str], *, sha256: str | None = None,
                       check: Callable[[Mapping[str, torch.Tensor]], None] | None = None) -> None:
    """Load the official checkpoint file ``path`` into ``model`` strictly (``torch.load(weights_only=True)``).

    ``sha256`` (full or a prefix of >= 8 hex digits), when given, is checked first; ``check(state_dict)`` may refuse
    the file before anything is loaded (e.g. a checkpoint of another model family; its ``ValueError`` should name
    the file). The key layout is :func:`guess_source`'s. Raises ``ValueError`` naming the file and every missing /
    unexpected / mis-shaped key, :class:`~posekit.models.weights.ChecksumError` on a hash mismatch and
    :class:`~posekit.models.weights.WeightsError` for a file that is not a readable checkpoint.
    """
    if sha256 is not None:
        verify_sha256(path, sha256)
    state = load_checkpoint(path)
    if check is not None:
        check(state)
    try:
        load_official(model, state, source=guess_source(state))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
