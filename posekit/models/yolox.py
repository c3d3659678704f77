"""YOLOX (Megvii-BaseDetection/YOLOX) in plain PyTorch: CSPDarknet backbone, PAFPN neck, decoupled head.

The module and parameter names are those of the official checkpoints (``yolox_nano.pth`` ... ``yolox_x.pth``,
release 0.1.1rc0, whose ``"model"`` entry is the state dict), e.g. ``backbone.backbone.stem.conv.conv.weight``,
``backbone.lateral_conv0.bn.running_mean``, ``head.cls_convs.0.1.dconv.conv.weight``, ``head.obj_preds.2.bias``,
so ``model.load_state_dict(checkpoint["model"])`` works as it is.

Input: ``(B, 3, H, W)`` float32 **BGR 0-255** (no normalisation), H and W multiples of 32 (the model's
``input_size``: 416 for nano/tiny, 640 for the rest); the image is letterboxed to the top-left corner and padded
with 114 (see :mod:`posekit.detect.yolox`). Output: ``(B, cells, 5 + num_classes)`` raw head outputs of the three
levels concatenated (stride 8 first, cells row-major per level): ``[dx, dy, log w, log h]`` in stride units, then
the objectness and class scores **after sigmoid**, exactly like the official export with
``decode_in_inference=False`` (``yolox_nano.onnx``). Grid decoding is :func:`posekit.detect.yolox.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["VARIANTS", "YOLOX", "YOLOXConfig", "yolox"]

BN_EPS = 1e-3  # YOLOX's init_yolo: eps 1e-3, momentum 0.03 for every BatchNorm2d
BN_MOMENTUM = 0.03


@dataclass(frozen=True)
class YOLOXConfig:
    """Official depth/width multipliers of a variant, whether it uses depthwise convolutions, its input size."""

    depth: float
    width: float
    depthwise: bool = False
    input_size: int = 640


VARIANTS: dict[str, YOLOXConfig] = {
    "nano": YOLOXConfig(0.33, 0.25, depthwise=True, input_size=416),
    "tiny": YOLOXConfig(0.33, 0.375, input_size=416),
    "s": YOLOXConfig(0.33, 0.50),
    "m": YOLOXConfig(0.67, 0.75),
    "l": YOLOXConfig(1.0, 1.0),
    "x": YOLOXConfig(1.33, 1.25),
}


class BaseConv(nn.Module):
    """Conv2d (no bias, 'same' padding) -> BatchNorm2d -> SiLU; keys ``conv.weight``, ``bn.*``."""

    def __init__(self, cin: int, cout: int, ksize: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ksize, stride, (ksize - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise ``ksize`` x ``ksize`` BaseConv (``dconv``) then pointwise 1x1 BaseConv (``pconv``)."""

    def __init__(self, cin: int, cout: int, ksize: int, stride: int = 1) -> None:
        super().__init__()
        self.dconv = BaseConv(cin, cin, ksize, stride, groups=cin)
        self.pconv = BaseConv(cin, cout, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def _conv(depthwise: bool) -> type[nn.Module]:
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    """1x1 conv then 3x3 conv (depthwise or not), plus the input when ``shortcut`` and the channels agree."""

    def __init__(self, cin: int, cout: int, shortcut: bool = True, expansion: float = 0.5,
                 depthwise: bool = False) -> None:
        super().__init__()
        hidden = int(cout * expansion)
        self.conv1 = BaseConv(cin, hidden, 1, 1)
        self.conv2 = _conv(depthwise)(hidden, cout, 3, 1)
        self.use_add = shortcut and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1x1 conv, max pools 5/9/13 (stride 1) concatenated with their input, 1x1 conv."""

    def __init__(self, cin: int, cout: int, kernel_sizes: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = BaseConv(cin, hidden, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), cout, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [m(x) for m in self.m], dim=1))


class CSPLayer(nn.Module):
    """CSP block: two 1x1 branches (``conv1`` through ``n`` bottlenecks ``m``, ``conv2`` as is) joined by ``conv3``."""

    def __init__(self, cin: int, cout: int, n: int = 1, shortcut: bool = True, expansion: float = 0.5,
                 depthwise: bool = False) -> None:
        super().__init__()
        hidden = int(cout * expansion)
        self.conv1 = BaseConv(cin, hidden, 1, 1)
        self.conv2 = BaseConv(cin, hidden, 1, 1)
        self.conv3 = BaseConv(2 * hidden, cout, 1, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, 1.0, depthwise) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(x)  # before m, as the official code (and its ONNX export's node order)
        return self.conv3(torch.cat([self.m(x1), x2], dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixels -> 4x channels, order: top-left, bottom-left, top-right, bottom-right) then a
    BaseConv: ``(B, C, H, W)`` -> ``(B, cout, H / 2, W / 2)``."""

    def __init__(self, cin: int, cout: int, ksize: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.conv = BaseConv(cin * 4, cout, ksize, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], dim=1)
        return self.conv(x)


class CSPDarknet(nn.Module):
    """CSPDarknet53 scaled by ``depth``/``width``: returns the ``dark3``, ``dark4``, ``dark5`` features (strides 8,
    16, 32; channels 4, 8, 16 x ``int(64 * width)``)."""

    def __init__(self, depth: float, width: float, depthwise: bool = False) -> None:
        super().__init__()
        conv = _conv(depthwise)
        c = int(width * 64)
        d = max(round(depth * 3), 1)
        self.stem = Focus(3, c, ksize=3)
        self.dark2 = nn.Sequential(conv(c, c * 2, 3, 2), CSPLayer(c * 2, c * 2, n=d, depthwise=depthwise))
        self.dark3 = nn.Sequential(conv(c * 2, c * 4, 3, 2), CSPLayer(c * 4, c * 4, n=d * 3, depthwise=depthwise))
        self.dark4 = nn.Sequential(conv(c * 4, c * 8, 3, 2), CSPLayer(c * 8, c * 8, n=d * 3, depthwise=depthwise))
        self.dark5 = nn.Sequential(conv(c * 8, c * 16, 3, 2), SPPBottleneck(c * 16, c * 16),
                                   CSPLayer(c * 16, c * 16, n=d, shortcut=False, depthwise=depthwise))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(x))
        d3 = self.dark3(x)
        d4 = self.dark4(d3)
        return d3, d4, self.dark5(d4)


class YOLOPAFPN(nn.Module):
    """CSPDarknet (``backbone``) and the PAN feature pyramid: returns the stride 8, 16, 32 features with
    ``int(c * width)`` channels for c in 256, 512, 1024."""

    def __init__(self, depth: float, width: float, depthwise: bool = False,
                 in_channels: tuple[int, int, int] = (256, 512, 1024)) -> None:
        super().__init__()
        conv = _conv(depthwise)
        c0, c1, c2 = (int(c * width) for c in in_channels)
        n = round(3 * depth)
        self.backbone = CSPDarknet(depth, width, depthwise)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c2, c1, 1, 1)
        self.C3_p4 = CSPLayer(2 * c1, c1, n, False, depthwise=depthwise)
        self.reduce_conv1 = BaseConv(c1, c0, 1, 1)
        self.C3_p3 = CSPLayer(2 * c0, c0, n, False, depthwise=depthwise)
        self.bu_conv2 = conv(c0, c0, 3, 2)
        self.C3_n3 = CSPLayer(2 * c0, c1, n, False, depthwise=depthwise)
        self.bu_conv1 = conv(c1, c1, 3, 2)
        self.C3_n4 = CSPLayer(2 * c1, c2, n, False, depthwise=depthwise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat([self.upsample(fpn_out0), x1], dim=1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat([self.upsample(fpn_out1), x2], dim=1))
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], dim=1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], dim=1))
        return pan_out2, pan_out1, pan_out0


class YOLOXHead(nn.Module):
    """Decoupled head, per level: 1x1 ``stems``, two 3x3 convs each for classes (``cls_convs``) and boxes
    (``reg_convs``), then 1x1 ``cls_preds`` (num_classes), ``reg_preds`` (4) and ``obj_preds`` (1, from the box
    branch). Returns ``(B, cells, 5 + num_classes)`` (see the module docstring)."""

    def __init__(self, num_classes: int, width: float, depthwise: bool = False,
                 in_channels: tuple[int, int, int] = (256, 512, 1024)) -> None:
        super().__init__()
        conv = _conv(depthwise)
        hidden = int(256 * width)
        self.num_classes = num_classes
        self.stems = nn.ModuleList(BaseConv(int(c * width), hidden, 1, 1) for c in in_channels)
        self.cls_convs = nn.ModuleList(nn.Sequential(conv(hidden, hidden, 3, 1), conv(hidden, hidden, 3, 1))
                                       for _ in in_channels)
        self.reg_convs = nn.ModuleList(nn.Sequential(conv(hidden, hidden, 3, 1), conv(hidden, hidden, 3, 1))
                                       for _ in in_channels)
        self.cls_preds = nn.ModuleList(nn.Conv2d(hidden, num_classes, 1) for _ in in_channels)
        self.reg_preds = nn.ModuleList(nn.Conv2d(hidden, 4, 1) for _ in in_channels)
        self.obj_preds = nn.ModuleList(nn.Conv2d(hidden, 1, 1) for _ in in_channels)

    def forward(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        outputs = []
        for k, x in enumerate(features):
            x = self.stems[k](x)
            cls_out = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            out = torch.cat([self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat).sigmoid(), cls_out.sigmoid()],
                            dim=1)
            outputs.append(out.flatten(start_dim=2))
        return torch.cat(outputs, dim=2).permute(0, 2, 1)


class YOLOX(nn.Module):
    """``backbone`` (YOLOPAFPN) and ``head`` (YOLOXHead): ``(B, 3, H, W)`` BGR 0-255 -> ``(B, cells, 5 + C)``,
    ``cells = sum((H / s) * (W / s) for s in (8, 16, 32))``. ``input_size`` is the variant's training size."""

    strides = (8, 16, 32)
    input_range = (0.0, 255.0)  # raw BGR pixel values (ONNX export verification draws its inputs from it)

    def __init__(self, config: YOLOXConfig, num_classes: int = 80) -> None:
        super().__init__()
        self.config = config
        self.input_size = config.input_size
        self.backbone = YOLOPAFPN(config.depth, config.width, config.depthwise)
        self.head = YOLOXHead(num_classes, config.width, config.depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"YOLOX takes a (B, 3, H, W) BGR batch with H and W multiples of 32, got "
                             f"{tuple(x.shape)}")
        return self.head(self.backbone(x))


def yolox(variant: str = "nano", *, num_classes: int = 80) -> YOLOX:
    """A randomly initialised YOLOX ``variant`` (``"nano"``, ``"tiny"``, ``"s"``, ``"m"``, ``"l"``, ``"x"``) in eval
    mode, laid out like the official checkpoint of that name (load its ``["model"]`` entry with
    ``load_state_dict``)."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown YOLOX variant {variant!r}; known: {', '.join(VARIANTS)}")
    return YOLOX(VARIANTS[variant], num_classes).eval()
