"""The network a training run optimises: a zoo architecture adapted to the data's keypoints.

:func:`build_train_model` builds the family of ``cfg.model.name`` (or a caller's ``family``), optionally loads a
checkpoint, re-initialises the head's last convolution when the data's skeleton has a different number of
keypoints, adds the SRCNN refinement head, and freezes the backbone when asked. The returned model carries a
:class:`~posekit.models.topdown.TopdownSpec` as ``model.spec`` describing *its own* output (the data's skeleton,
the codec of its final heatmaps), so a trained model runs unchanged behind
:class:`posekit.pipelines.topdown.TopDownEstimator`.

Heatmap models only (``MSRAHeatmap`` and ``UDPHeatmap`` codecs: SimpleBaseline, HRNet, ViTPose); SimCC models
(RTMPose) are refused with a clear error.

SRCNN frames: the refined map has ``upscale`` times the coarse resolution and is trained against targets of the
*fine codec* (:func:`refined_codec`: the coarse codec with ``heatmap_size * upscale`` and ``sigma * upscale``, the
same Gaussian in input pixels) in that codec's own frame. An untrained refinement head returns the bilinear
upsampling, which decodes :meth:`~posekit.models.heads.srcnn_refine.SRCNNRefine.input_offset` input pixels right
of / below the coarse decode (1 px for 4x maps upsampled 2x); the residual convolutions learn that sub-pixel shift
during training, so the trained model decodes with the plain fine codec -- which is what the inference pipeline
does (``model.spec.codec`` is the fine codec).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, Union

import torch
from torch import nn

from posekit import skeletons as _skeletons
from posekit.codecs import MSRAHeatmap, SimCC, UDPHeatmap
from posekit.models.heads.srcnn_refine import RefinedHeatmapHead, SRCNNRefine
from posekit.models.mmpose_zoo import TopdownEntry
from posekit.models.registry import get_entry
from posekit.models.topdown import TopdownSpec, load_weights
from posekit.models.weights import load_checkpoint
from posekit.skeletons import Skeleton

__all__ = ["TrainForward", "build_train_model", "load_train_weights", "refined_codec", "reset_head_keypoints"]

HeatmapCodec = Union[MSRAHeatmap, UDPHeatmap]
Family = Callable[[], tuple[nn.Module, Any]]


def refined_codec(codec: HeatmapCodec, upscale: int) -> HeatmapCodec:
    """The codec of an SRCNN-refined map: ``heatmap_size * upscale`` and ``sigma * upscale`` (heatmap pixels), so
    the Gaussian has the coarse codec's width in input pixels."""
    w, h = codec.heatmap_size
    return dataclasses.replace(codec, heatmap_size=(w * upscale, h * upscale), sigma=codec.sigma * upscale)


def reset_head_keypoints(model: nn.Module, num_keypoints: int, *, seed: int = 0) -> None:
    """Replace the heatmap head's final convolution by a freshly initialised one with ``num_keypoints`` outputs
    (in place; the rest of the head keeps its weights). The new conv has the old one's kernel and padding and
    PyTorch's default initialisation drawn from a generator seeded with ``seed``."""
    head = model.head.head if isinstance(model.head, RefinedHeatmapHead) else model.head
    final = getattr(head, "final_layer", None)
    if not isinstance(final, nn.Conv2d):
        raise ValueError(f"cannot re-initialise the head of {type(head).__name__} for {num_keypoints} keypoints: "
                         "it has no final Conv2d ('final_layer'); only heatmap heads are supported")
    conv = nn.Conv2d(final.in_channels, int(num_keypoints), final.kernel_size, stride=final.stride,
                     padding=final.padding, bias=final.bias is not None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        conv.reset_parameters()
    head.final_layer = conv
    if hasattr(head, "out_channels"):
        head.out_channels = int(num_keypoints)


def load_train_weights(model: nn.Module, path: str) -> None:
    """Load a posekit training checkpoint (the ``model`` entry written by :mod:`posekit.train.loop`, or any state
    dict whose keys and shapes are exactly those of ``model``) strictly, with ``torch.load(weights_only=True)``."""
    state = load_checkpoint(path)
    own = model.state_dict()
    bad = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
    extra = [k for k in state if k not in own]
    if bad or extra:
        raise ValueError(f"{path}: not a checkpoint of this model ({len(bad)} missing or mis-shaped keys, e.g. "
                         f"{(bad or extra)[:3]}; {len(extra)} unexpected)")
    model.load_state_dict(state, strict=True)


def _is_own_checkpoint(path: str, model: nn.Module) -> bool:
    state = load_checkpoint(path)
    own = model.state_dict()
    return set(state) == set(own) and all(tuple(state[k].shape) == tuple(own[k].shape) for k in own)


def build_train_model(
    cfg: Any, *, skeleton: Skeleton | None = None, family: Family | None = None,
) -> tuple[nn.Module, HeatmapCodec, Skeleton]:
    """The model to train, the codec of its coarse heatmaps and the skeleton of its output.

    Args:
        cfg: a :class:`~posekit.train.config.TrainConfig` (uses ``model``, ``data.skeleton``, ``runtime.seed``).
        skeleton: the data's keypoint layout; default ``cfg.data.skeleton`` (a table of :mod:`posekit.skeletons`),
            else the family's own.
        family: ``() -> (TopdownModel, TopdownSpec)`` used instead of the zoo entry ``cfg.model.name`` (custom or
            reduced architectures, e.g. ``lambda: simplebaseline(18, input_size=(48, 64))`` in tests).

    ``cfg.model.weights``: an official MMPose checkpoint (loaded strictly into the family's own layout *before*
    the head is re-initialised, so a COCO checkpoint fine-tunes on any skeleton) or a posekit training checkpoint
    of exactly this model (loaded after the head and SRCNN changes). ``cfg.model.input_size`` changes the input
    of fully convolutional families (heatmaps stay at 1/4); ViTPose keeps its 256x192.

    Returns:
        ``(model, codec, skeleton)``: ``model`` in train mode with ``model.spec`` (inference settings: its output
        codec -- the fine codec with SRCNN --, the skeleton, normalisation), the coarse-output ``codec`` (training
        targets of ``model.head``'s first stage), and ``skeleton``.
    """
    mcfg = cfg.model
    if family is None:
        entry = get_entry(mcfg.name)
        if not isinstance(entry, TopdownEntry):
            raise ValueError(f"model.name: {mcfg.name!r} is not a top-down heatmap model and cannot be trained")
        model = entry.build_model()
        spec = model.spec
    else:
        model, spec = family()
    if not isinstance(spec, TopdownSpec):
        raise TypeError(f"the model family must return (model, TopdownSpec), got {type(spec).__name__}")
    if isinstance(spec.codec, SimCC):
        raise ValueError(f"model.name: {mcfg.name!r} uses a SimCC codec; posekit trains heatmap models only "
                         "(SimpleBaseline, HRNet, ViTPose)")
    if skeleton is None:
        skeleton = getattr(_skeletons, cfg.data.skeleton) if cfg.data.skeleton else spec.skeleton
    codec = spec.codec
    if mcfg.input_size is not None and tuple(mcfg.input_size) != tuple(codec.input_size):
        if isinstance(codec, UDPHeatmap):
            raise ValueError(f"model.input_size: {mcfg.name!r} (ViTPose) has a fixed input of {codec.input_size}")
        w, h = mcfg.input_size
        codec = dataclasses.replace(codec, input_size=(w, h), heatmap_size=(w // 4, h // 4))
    native_k = spec.skeleton.num_keypoints
    own_weights = False
    if mcfg.weights is not None:  # a posekit checkpoint has the adapted model's keys; anything else is official
        own_weights = _is_own_checkpoint(mcfg.weights, _adapt(copy.deepcopy(model), skeleton, mcfg.srcnn,
                                                               cfg.runtime.seed, native_k))
        if not own_weights:
            load_weights(model, mcfg.weights)
    _adapt(model, skeleton, mcfg.srcnn, cfg.runtime.seed, native_k)
    out_codec = refined_codec(codec, 2) if mcfg.srcnn else codec
    if own_weights:
        load_train_weights(model, mcfg.weights)
    if mcfg.freeze_backbone:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    model.spec = TopdownSpec(out_codec, skeleton, mean=spec.mean, std=spec.std, udp=spec.udp,
                             flip_test=spec.flip_test, shift_heatmap=spec.shift_heatmap, padding=spec.padding)
    return model.train(), codec, skeleton


def _adapt(model: nn.Module, skeleton: Skeleton, srcnn: bool, seed: int, native_k: int) -> nn.Module:
    """Re-initialise the head for ``skeleton`` when its size differs and add the SRCNN head (in place)."""
    if skeleton.num_keypoints != native_k:
        reset_head_keypoints(model, skeleton.num_keypoints, seed=seed)
    if srcnn:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            refine = SRCNNRefine(skeleton.num_keypoints, upscale=2)
        model.head = RefinedHeatmapHead(model.head, refine)
    return model


class TrainForward(nn.Module):
    """The training forward pass as one module (what DDP wraps): ``x`` (B, 3, H, W) normalised float ->
    ``(coarse,)`` or ``(coarse, refined)`` heatmaps (B, K, h, w) / (B, K, 2h, 2w).

    Frozen backbones run in eval mode (fixed BatchNorm statistics), as MMPose's ``frozen_stages``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def train(self, mode: bool = True) -> TrainForward:
        super().train(mode)
        backbone = getattr(self.model, "backbone", None)
        if mode and backbone is not None and not any(p.requires_grad for p in backbone.parameters()):
            backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.extract_features(x)
        head = self.model.head
        if isinstance(head, RefinedHeatmapHead):
            return head.forward_both(feats)
        return (head(feats),)
