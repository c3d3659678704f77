"""Top-down networks and settings from an MMPose 1.x ``model`` config dict (:func:`from_mmpose_cfg`).

The config dicts are those stored with the fixtures (``info.json``, layout manifests): a backbone (ResNet, HRNet,
VisionTransformer, CSPNeXt), an optional neck (``FeatureMapProcessor``, MMPose's ``CSPNeXtPAFPN``), a head
(HeatmapHead, RTMCCHead, RTMWHead) with its
``decoder`` (the codec) and ``test_cfg``. The named families (:mod:`posekit.models.simplebaseline`, ...) build the
same networks from a few arguments; this module is for reduced or custom configurations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from posekit import skeletons
from posekit.codecs import MSRAHeatmap, SimCC, UDPHeatmap
from posekit.models.backbones.cspnext import cspnext
from posekit.models.backbones.hrnet import hrnet
from posekit.models.backbones.resnet import resnet
from posekit.models.backbones.vit import vit
from posekit.models.heads.heatmap import HeatmapHead
from posekit.models.heads.rtmcc import RTMCCHead
from posekit.models.heads.rtmw import RTMWHead
from posekit.models.heads.vitpose_simple import ReLUUpsample
from posekit.models.necks.cspnext_pafpn import CSPNeXtPAFPN
from posekit.models.topdown import Codec, TopdownModel, TopdownSpec
from posekit.models.weights import IMAGENET_MEAN, IMAGENET_STD
from posekit.skeletons import Skeleton

__all__ = ["from_mmpose_cfg"]


def _codec_from_cfg(cfg: Mapping[str, Any]) -> Codec:
    kind = cfg.get("type")
    size = tuple(cfg["input_size"])
    if kind == "MSRAHeatmap":
        return MSRAHeatmap(size, tuple(cfg["heatmap_size"]), sigma=cfg["sigma"], unbiased=cfg.get("unbiased", False),
                           blur_kernel_size=cfg.get("blur_kernel_size", 11))
    if kind == "UDPHeatmap":
        return UDPHeatmap(size, tuple(cfg["heatmap_size"]), sigma=cfg.get("sigma", 2.0),
                          heatmap_type=cfg.get("heatmap_type", "gaussian"),
                          blur_kernel_size=cfg.get("blur_kernel_size", 11))
    if kind == "SimCCLabel":
        sigma = cfg.get("sigma", 6.0)
        return SimCC(size, sigma=tuple(sigma) if isinstance(sigma, (list, tuple)) else sigma,
                     simcc_split_ratio=cfg.get("simcc_split_ratio", 2.0), normalize=cfg.get("normalize", True),
                     use_dark=cfg.get("use_dark", False), decode_visibility=cfg.get("decode_visibility", False),
                     decode_beta=cfg.get("decode_beta", 150.0))
    raise ValueError(f"unsupported codec type {kind!r} in the model config (MSRAHeatmap, UDPHeatmap, SimCCLabel)")


def _backbone_from_cfg(b: Mapping[str, Any]) -> Any:
    kind = str(b.get("type", "")).split(".")[-1]
    if kind == "ResNet":
        return resnet(b["depth"], stem_channels=b.get("stem_channels", 64), base_channels=b.get("base_channels", 64))
    if kind == "HRNet":
        return hrnet(b["extra"], in_channels=b.get("in_channels", 3))
    if kind == "VisionTransformer":
        arch = b.get("arch", "base")
        return vit(dict(arch) if isinstance(arch, Mapping) else arch, img_size=tuple(b.get("img_size", (256, 192))),
                   patch_size=b.get("patch_size", 16), patch_padding=b.get("patch_cfg", {}).get("padding", 2),
                   qkv_bias=b.get("qkv_bias", True))
    if kind == "CSPNeXt":
        return cspnext(b.get("deepen_factor", 1.0), b.get("widen_factor", 1.0), expand_ratio=b.get("expand_ratio", 0.5),
                       out_indices=tuple(b.get("out_indices", (2, 3, 4))),  # MMPose's / MMDet's default
                       channel_attention=b.get("channel_attention", True))
    raise ValueError(f"unsupported backbone type {b.get('type')!r} (ResNet, HRNet, VisionTransformer, CSPNeXt)")


def _head_from_cfg(h: Mapping[str, Any]) -> Any:
    if h.get("type") == "HeatmapHead":
        deconv = h.get("deconv_out_channels", (256, 256, 256))
        final = h.get("final_layer", {"kernel_size": 1})
        return HeatmapHead(h["in_channels"], h["out_channels"], deconv_out_channels=deconv,
                           deconv_kernel_sizes=h.get("deconv_kernel_sizes", (4,) * len(deconv or ())),
                           conv_out_channels=h.get("conv_out_channels"),
                           conv_kernel_sizes=h.get("conv_kernel_sizes"),
                           final_kernel_size=None if final is None else final.get("kernel_size", 1))
    if h.get("type") == "RTMCCHead":
        gau = h.get("gau_cfg", {})
        return RTMCCHead(h["in_channels"], h["out_channels"], tuple(h["input_size"]), tuple(h["in_featuremap_size"]),
                         simcc_split_ratio=h.get("simcc_split_ratio", 2.0),
                         final_layer_kernel_size=h.get("final_layer_kernel_size", 1),
                         hidden_dims=gau.get("hidden_dims", 256), s=gau.get("s", 128),
                         expansion_factor=gau.get("expansion_factor", 2))
    if h.get("type") == "RTMWHead":
        gau = h.get("gau_cfg", {})
        for key in ("use_rel_bias", "pos_enc"):
            if gau.get(key, False):
                raise ValueError(f"RTMWHead: gau_cfg[{key!r}] is not supported (every RTMW config sets False)")
        return RTMWHead(h["in_channels"], h["out_channels"], tuple(h["input_size"]), tuple(h["in_featuremap_size"]),
                        simcc_split_ratio=h.get("simcc_split_ratio", 2.0),
                        final_layer_kernel_size=h.get("final_layer_kernel_size", 1),
                        hidden_dims=gau.get("hidden_dims", 256), s=gau.get("s", 128),
                        expansion_factor=gau.get("expansion_factor", 2), act=gau.get("act_fn", "ReLU"))
    raise ValueError(f"unsupported head type {h.get('type')!r} (HeatmapHead, RTMCCHead, RTMWHead)")


def _neck_from_cfg(n: Mapping[str, Any]) -> Any:
    kind = n.get("type")
    if kind == "FeatureMapProcessor":
        return ReLUUpsample(scale_factor=n.get("scale_factor", 1.0), apply_relu=n.get("apply_relu", False),
                            align_corners=n.get("align_corners", False))
    if kind == "CSPNeXtPAFPN":
        if n.get("out_channels") is not None:  # MMPose 1.3.2 builds a single out conv it cannot iterate over
            raise ValueError(f"CSPNeXtPAFPN: only out_channels=None is supported (RTMW), got {n.get('out_channels')!r}")
        act = (n.get("act_cfg") or {"type": "Swish"}).get("type")  # MMPose's default: Swish, i.e. SiLU
        if act not in ("SiLU", "Swish"):
            raise ValueError(f"CSPNeXtPAFPN: only SiLU activations are supported, got act_cfg type {act!r}")
        norm = n.get("norm_cfg") or {"momentum": 0.03, "eps": 0.001}  # MMPose's default norm_cfg
        return CSPNeXtPAFPN(n["in_channels"], out_indices=tuple(n.get("out_indices", (0, 1, 2))),
                            num_csp_blocks=n.get("num_csp_blocks", 3), use_depthwise=n.get("use_depthwise", False),
                            expand_ratio=n.get("expand_ratio", 0.5), bn_eps=norm.get("eps", 1e-5),
                            bn_momentum=norm.get("momentum", 0.1))
    raise ValueError(f"unsupported neck type {kind!r} (FeatureMapProcessor, CSPNeXtPAFPN)")


def from_mmpose_cfg(
    model_cfg: Mapping[str, Any], *, skeleton: Skeleton = skeletons.coco17,
    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
) -> tuple[TopdownModel, TopdownSpec]:
    """Network and settings from an MMPose 1.x ``model`` config dict (backbone, optional neck, head with its
    ``decoder``, ``test_cfg``), as stored in the fixtures' ``info.json`` / layout manifests.

    Supported: ResNet, HRNet, VisionTransformer (ViTPose), CSPNeXt backbones; ``FeatureMapProcessor`` and
    ``CSPNeXtPAFPN`` (MMPose's, ``out_channels=None``) necks; HeatmapHead, RTMCCHead and RTMWHead. ``test_cfg``
    defaults follow MMPose's ``.get()``: flip_test and shift_heatmap False when absent. UDP crops are used with a
    UDP codec (as the ViTPose configs' ``TopdownAffine(use_udp=True)``).
    """
    head_cfg = model_cfg["head"]
    backbone = _backbone_from_cfg(model_cfg["backbone"])
    neck_cfg = model_cfg.get("neck")
    neck = _neck_from_cfg(neck_cfg) if neck_cfg else None
    model = TopdownModel(backbone, _head_from_cfg(head_cfg), neck=neck)
    if "decoder" not in head_cfg:
        raise ValueError("model_cfg['head'] has no 'decoder' (the codec config)")
    codec = _codec_from_cfg(head_cfg["decoder"])
    test_cfg = model_cfg.get("test_cfg") or {}
    if test_cfg.get("flip_mode", "heatmap") != "heatmap":
        raise ValueError(f"only flip_mode='heatmap' is supported, got {test_cfg.get('flip_mode')!r}")
    spec = TopdownSpec(codec, skeleton, mean=tuple(mean), std=tuple(std), udp=isinstance(codec, UDPHeatmap),
                       flip_test=bool(test_cfg.get("flip_test", False)),
                       shift_heatmap=bool(test_cfg.get("shift_heatmap", False)))
    return model, spec
