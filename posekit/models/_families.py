"""Top-down model families: one small builder per family, each returning the network and its test settings.

* :func:`simplebaseline` -- ResNet + 3 deconvolutions (Xiao et al. 2018), MSRA heatmaps, shifted flip test.
* :func:`hrnet_topdown` -- HRNet + a 1x1 conv, MSRA heatmaps, shifted flip test.
* :func:`vitpose` -- ViT + the ``"classic"`` (2 deconvolutions) or ``"simple"`` (ReLU, 4x bilinear, 3x3 conv)
  decoder, UDP crops and UDP heatmaps.
* :func:`rtmpose` -- CSPNeXt + RTMCC head, SimCC vectors.
* :func:`from_mmpose_cfg` -- the same from an MMPose 1.x ``model`` config dict (e.g. the fixtures' ``info.json``).

Every builder returns ``(TopdownModel, TopdownSpec)`` where :class:`TopdownSpec` holds what the top-down
pipeline needs besides the network: the codec, the skeleton, the input normalisation, the crop flavour and the
flip-test settings, with the values of the official MMPose 1.3.2 configs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from posekit import skeletons
from posekit.codecs import MSRAHeatmap, SimCC, UDPHeatmap
from posekit.models.topdown import TopdownModel
from posekit.skeletons import Skeleton

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "TopdownSpec", "simplebaseline", "hrnet_topdown", "vitpose", "rtmpose",
    "from_mmpose_cfg",
]

# PoseDataPreprocessor of every official config: RGB, 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

Codec = Union[MSRAHeatmap, UDPHeatmap, SimCC]


@dataclass(frozen=True)
class TopdownSpec:
    """Test-time settings of a top-down model (MMPose: codec + ``test_cfg`` + data preprocessor + pipeline).

    Attributes:
        codec: decodes the model output (:class:`MSRAHeatmap`, :class:`UDPHeatmap` or :class:`SimCC`); its
            ``input_size`` is the model input ``(width, height)`` in pixels.
        skeleton: keypoint layout of the output (``flip_indices`` come from it).
        mean, std: per-channel normalisation ``(rgb - mean) / std`` on the 0-255 RGB crop.
        udp: cut crops with the UDP warp matrix (ViTPose) instead of the standard one.
        flip_test: average with the prediction on the horizontally flipped crop.
        shift_heatmap: shift un-flipped heatmaps one column right (MSRA-heatmap configs).
        padding: box enlargement before the aspect-ratio fix (``GetBBoxCenterScale``).
    """

    codec: Codec
    skeleton: Skeleton
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    udp: bool = False
    flip_test: bool = True
    shift_heatmap: bool = False
    padding: float = 1.25
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.codec, (MSRAHeatmap, UDPHeatmap, SimCC)):
            raise TypeError(f"codec must be MSRAHeatmap, UDPHeatmap or SimCC, got {type(self.codec).__name__}")
        if not isinstance(self.skeleton, Skeleton):
            raise TypeError(f"skeleton must be a posekit Skeleton, got {type(self.skeleton).__name__}")
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise ValueError(f"{name} must have 3 values (R, G, B), got {value}")
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        if not self.padding > 0:
            raise ValueError(f"padding must be positive, got {self.padding}")

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(width, height)`` in pixels."""
        return self.codec.input_size


def _heatmap_size(input_size: tuple[int, int], stride: int = 4) -> tuple[int, int]:
    return input_size[0] // stride, input_size[1] // stride


def _msra_spec(input_size: tuple[int, int], sigma: float, skeleton: Skeleton) -> TopdownSpec:
    codec = MSRAHeatmap(input_size, _heatmap_size(input_size), sigma=sigma)
    return TopdownSpec(codec, skeleton, shift_heatmap=True)


def simplebaseline(
    depth: int = 50, *, input_size: tuple[int, int] = (192, 256), skeleton: Skeleton = skeletons.coco17,
    sigma: float = 2.0, stem_channels: int = 64, base_channels: int = 64,
    deconv_out_channels: Sequence[int] = (256, 256, 256),
) -> tuple[TopdownModel, TopdownSpec]:
    """SimpleBaseline: ResNet-``depth`` + deconvolution head; MSRA heatmaps at 1/4 of ``input_size`` (w, h)."""
    from posekit.models.backbones.resnet import resnet
    from posekit.models.heads.heatmap import HeatmapHead

    backbone = resnet(depth, stem_channels=stem_channels, base_channels=base_channels)
    head = HeatmapHead(backbone.out_channels[-1], skeleton.num_keypoints, deconv_out_channels=deconv_out_channels,
                       deconv_kernel_sizes=(4,) * len(deconv_out_channels))
    return TopdownModel(backbone, head), _msra_spec(tuple(input_size), sigma, skeleton)


def hrnet_topdown(
    width: int | Mapping[str, Any] = 32, *, input_size: tuple[int, int] = (192, 256),
    skeleton: Skeleton = skeletons.coco17, sigma: float = 2.0,
) -> tuple[TopdownModel, TopdownSpec]:
    """HRNet-W``width`` (32 or 48; or an MMPose ``extra`` dict) + 1x1 conv; MSRA heatmaps at 1/4 resolution."""
    from posekit.models.backbones.hrnet import hrnet, hrnet_w32, hrnet_w48
    from posekit.models.heads.heatmap import HeatmapHead

    if isinstance(width, Mapping):
        backbone = hrnet(width)
    elif width in (32, 48):
        backbone = hrnet_w32() if width == 32 else hrnet_w48()
    else:
        raise ValueError(f"width must be 32, 48 or an HRNet 'extra' dict, got {width!r}")
    head = HeatmapHead(backbone.out_channels[0], skeleton.num_keypoints, deconv_out_channels=None)
    return TopdownModel(backbone, head), _msra_spec(tuple(input_size), sigma, skeleton)


def vitpose(
    arch: str | Mapping[str, int] = "base", *, decoder: str = "classic", skeleton: Skeleton = skeletons.coco17,
    deconv_out_channels: Sequence[int] = (256, 256),
) -> tuple[TopdownModel, TopdownSpec]:
    """ViTPose-``arch`` (``small``/``base``/``large``/``huge`` or a ViT arch dict) at 256x192.

    ``decoder="classic"``: 2 stride-2 deconvolutions + 1x1 conv; ``"simple"``: ReLU, 4x bilinear upsampling
    (the neck) + 3x3 conv. UDP crops, UDP heatmaps (48x64, sigma 2), flip test without shift.
    """
    from posekit.models.backbones.vit import vit
    from posekit.models.heads.heatmap import HeatmapHead
    from posekit.models.heads.vitpose_simple import ReLUUpsample

    if decoder not in ("classic", "simple"):
        raise ValueError(f"decoder must be 'classic' or 'simple', got {decoder!r}")
    backbone = vit(dict(arch) if isinstance(arch, Mapping) else arch, img_size=(256, 192))
    k = skeleton.num_keypoints
    if decoder == "simple":
        head = HeatmapHead(backbone.embed_dims, k, deconv_out_channels=(), deconv_kernel_sizes=(), final_kernel_size=3)
        model = TopdownModel(backbone, head, neck=ReLUUpsample(scale_factor=4.0))
    else:
        head = HeatmapHead(backbone.embed_dims, k, deconv_out_channels=tuple(deconv_out_channels),
                           deconv_kernel_sizes=(4,) * len(deconv_out_channels))
        model = TopdownModel(backbone, head)
    spec = TopdownSpec(UDPHeatmap((192, 256), (48, 64), sigma=2.0), skeleton, udp=True, shift_heatmap=False)
    return model, spec


def rtmpose(size: str = "m", *, skeleton: Skeleton = skeletons.coco17) -> tuple[TopdownModel, TopdownSpec]:
    """RTMPose-``size`` (``t``/``s``/``m``/``l``) at 256x192: CSPNeXt + RTMCC head, SimCC (split ratio 2)."""
    from posekit.models.backbones.cspnext import RTMPOSE_CSPNEXT_FACTORS, cspnext
    from posekit.models.heads.rtmcc import RTMCCHead

    if size not in RTMPOSE_CSPNEXT_FACTORS:
        raise ValueError(f"size must be one of {sorted(RTMPOSE_CSPNEXT_FACTORS)}, got {size!r}")
    deepen, widen = RTMPOSE_CSPNEXT_FACTORS[size]
    head = RTMCCHead(int(1024 * widen), skeleton.num_keypoints, (192, 256), (6, 8), simcc_split_ratio=2.0,
                     final_layer_kernel_size=7)
    codec = SimCC((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False)
    return TopdownModel(cspnext(deepen, widen), head), TopdownSpec(codec, skeleton)


# ----------------------------------------------------------------------------------------- MMPose configs


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
                     use_dark=cfg.get("use_dark", False))
    raise ValueError(f"unsupported codec type {kind!r} in the model config (MSRAHeatmap, UDPHeatmap, SimCCLabel)")


def _backbone_from_cfg(b: Mapping[str, Any]) -> Any:
    kind = str(b.get("type", "")).split(".")[-1]
    if kind == "ResNet":
        from posekit.models.backbones.resnet import resnet

        return resnet(b["depth"], stem_channels=b.get("stem_channels", 64), base_channels=b.get("base_channels", 64))
    if kind == "HRNet":
        from posekit.models.backbones.hrnet import hrnet

        return hrnet(b["extra"], in_channels=b.get("in_channels", 3))
    if kind == "VisionTransformer":
        from posekit.models.backbones.vit import vit

        arch = b.get("arch", "base")
        return vit(dict(arch) if isinstance(arch, Mapping) else arch, img_size=tuple(b.get("img_size", (256, 192))),
                   patch_size=b.get("patch_size", 16), patch_padding=b.get("patch_cfg", {}).get("padding", 2),
                   qkv_bias=b.get("qkv_bias", True))
    if kind == "CSPNeXt":
        from posekit.models.backbones.cspnext import cspnext

        return cspnext(b.get("deepen_factor", 1.0), b.get("widen_factor", 1.0), expand_ratio=b.get("expand_ratio", 0.5),
                       out_indices=tuple(b.get("out_indices", (4,))),
                       channel_attention=b.get("channel_attention", True))
    raise ValueError(f"unsupported backbone type {b.get('type')!r} (ResNet, HRNet, VisionTransformer, CSPNeXt)")


def _head_from_cfg(h: Mapping[str, Any]) -> Any:
    if h.get("type") == "HeatmapHead":
        from posekit.models.heads.heatmap import HeatmapHead

        deconv = h.get("deconv_out_channels", (256, 256, 256))
        final = h.get("final_layer", {"kernel_size": 1})
        return HeatmapHead(h["in_channels"], h["out_channels"], deconv_out_channels=deconv,
                           deconv_kernel_sizes=h.get("deconv_kernel_sizes", (4,) * len(deconv or ())),
                           conv_out_channels=h.get("conv_out_channels"),
                           conv_kernel_sizes=h.get("conv_kernel_sizes"),
                           final_kernel_size=None if final is None else final.get("kernel_size", 1))
    if h.get("type") == "RTMCCHead":
        from posekit.models.heads.rtmcc import RTMCCHead

        gau = h.get("gau_cfg", {})
        return RTMCCHead(h["in_channels"], h["out_channels"], tuple(h["input_size"]), tuple(h["in_featuremap_size"]),
                         simcc_split_ratio=h.get("simcc_split_ratio", 2.0),
                         final_layer_kernel_size=h.get("final_layer_kernel_size", 1),
                         hidden_dims=gau.get("hidden_dims", 256), s=gau.get("s", 128),
                         expansion_factor=gau.get("expansion_factor", 2))
    raise ValueError(f"unsupported head type {h.get('type')!r} (HeatmapHead, RTMCCHead)")


def from_mmpose_cfg(
    model_cfg: Mapping[str, Any], *, skeleton: Skeleton = skeletons.coco17,
    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
) -> tuple[TopdownModel, TopdownSpec]:
    """Network and settings from an MMPose 1.x ``model`` config dict (backbone, optional neck, head with its
    ``decoder``, ``test_cfg``), as stored in the fixtures' ``info.json`` / layout manifests.

    Supported: ResNet, HRNet, VisionTransformer (ViTPose), CSPNeXt backbones; ``FeatureMapProcessor`` neck;
    HeatmapHead and RTMCCHead. ``test_cfg`` defaults follow MMPose's ``.get()``: flip_test and shift_heatmap
    False when absent. UDP crops are used with a UDP codec (as the ViTPose configs' ``TopdownAffine(use_udp=True)``).
    """
    head_cfg = model_cfg["head"]
    backbone = _backbone_from_cfg(model_cfg["backbone"])
    neck = None
    neck_cfg = model_cfg.get("neck")
    if neck_cfg:
        if neck_cfg.get("type") != "FeatureMapProcessor":
            raise ValueError(f"unsupported neck type {neck_cfg.get('type')!r} (FeatureMapProcessor)")
        from posekit.models.heads.vitpose_simple import ReLUUpsample

        neck = ReLUUpsample(scale_factor=neck_cfg.get("scale_factor", 1.0), apply_relu=neck_cfg.get("apply_relu", False),
                            align_corners=neck_cfg.get("align_corners", False))
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
