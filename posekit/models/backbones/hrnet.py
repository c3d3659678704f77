"""HRNet backbone, laid out exactly as MMPose 1.3.2's ``HRNet`` so official checkpoints load strictly.

Structure (parameter names in brackets): a stem of two 3x3 stride-2 convs to 64 channels
(``conv1``/``bn1``, ``conv2``/``bn2``), stage 1 = one residual layer (``layer1``), then stages 2-4, each a
transition (``transition{1,2,3}``: 3x3 conv + BN + ReLU to change a branch's width, or a 3x3 stride-2 conv
to open a new, half-resolution branch from the lowest-resolution one) followed by ``num_modules``
:class:`HRModule` s (``stage{2,3,4}.{m}``). Each module runs its branches (``branches.{b}.{i}``) and
fuses them (``fuse_layers.{i}.{j}``: 1x1 conv + BN + nearest upsampling from lower resolutions, chains of
3x3 stride-2 conv + BN (+ ReLU) from higher ones). The last stage-4 module keeps only the
highest-resolution output (``multiscale_output=False``, as MMPose's pose configs).

Input ``(B, in_channels, H, W)`` float32; output a tuple of feature maps, the first ``(B, C0, H/4, W/4)``
(C0 = 32 for W32); with ``multiscale_output=False`` only that one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from posekit.models.backbones.resnet import BasicBlock, Bottleneck

__all__ = ["HRModule", "HRNet", "HRNetStage", "hrnet", "hrnet_w32", "hrnet_w48", "stages_from_extra"]

_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


@dataclass(frozen=True)
class HRNetStage:
    """One HRNet stage (MMPose's ``extra['stageN']``).

    Attributes:
        num_modules: HRModules in the stage (stage 1 is a plain residual layer and must have 1).
        block: ``"BASIC"`` or ``"BOTTLENECK"``.
        num_blocks: blocks per branch; its length is the number of branches.
        num_channels: branch widths before block expansion (same length as ``num_blocks``).
    """

    num_modules: int
    block: str
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_blocks", tuple(int(n) for n in self.num_blocks))
        object.__setattr__(self, "num_channels", tuple(int(c) for c in self.num_channels))
        if self.block not in _BLOCKS:
            raise ValueError(f"block must be one of {sorted(_BLOCKS)}, got {self.block!r}")
        if len(self.num_blocks) != len(self.num_channels) or not self.num_blocks:
            raise ValueError(
                f"num_blocks and num_channels must be non-empty and of equal length, "
                f"got {self.num_blocks} and {self.num_channels}"
            )
        if self.num_modules < 1:
            raise ValueError(f"num_modules must be >= 1, got {self.num_modules}")

    @property
    def num_branches(self) -> int:
        return len(self.num_blocks)

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Branch widths after block expansion."""
        return tuple(c * _BLOCKS[self.block].expansion for c in self.num_channels)


def stages_from_extra(extra: Mapping[str, Any]) -> tuple[HRNetStage, ...]:
    """Four :class:`HRNetStage` from an MMPose ``backbone.extra`` dict (``stage1`` ... ``stage4``,
    each with num_modules, num_branches, block, num_blocks, num_channels); ``num_branches`` is checked."""
    stages = []
    for n in range(1, 5):
        key = f"stage{n}"
        if key not in extra:
            raise ValueError(f"HRNet extra is missing {key!r} (has {sorted(extra)})")
        cfg = extra[key]
        stage = HRNetStage(int(cfg["num_modules"]), str(cfg["block"]), cfg["num_blocks"], cfg["num_channels"])
        if "num_branches" in cfg and int(cfg["num_branches"]) != stage.num_branches:
            raise ValueError(
                f"HRNet extra[{key!r}]: num_branches={cfg['num_branches']} "
                f"but num_blocks has {stage.num_branches} entries"
            )
        stages.append(stage)
    return tuple(stages)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, *, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _branch(block: type[BasicBlock] | type[Bottleneck], num_blocks: int, cin: int, cout: int) -> nn.Sequential:
    downsample = None if cin == cout else _conv_bn(cin, cout, 1, 1, relu=False)
    layers = [block(cin, cout, downsample=downsample)]
    layers += [block(cout, cout) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches plus all-to-all fusion.

    Input/output: lists of ``(B, C_b, H / 2**b, W / 2**b)`` per branch ``b``; with
    ``multiscale_output=False`` the output list holds only branch 0.
    """

    def __init__(
        self, stage: HRNetStage, in_channels: Sequence[int], *, multiscale_output: bool = True
    ) -> None:
        super().__init__()
        if len(in_channels) != stage.num_branches:
            raise ValueError(f"HRModule: {stage.num_branches} branches but in_channels={tuple(in_channels)}")
        block = _BLOCKS[stage.block]
        self.num_branches = stage.num_branches
        self.out_channels = stage.out_channels
        self.branches = nn.ModuleList(
            _branch(block, n, cin, cout) for n, cin, cout in zip(stage.num_blocks, in_channels, self.out_channels)
        )
        self.fuse_layers = self._make_fuse_layers(multiscale_output) if self.num_branches > 1 else None
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self, multiscale_output: bool) -> nn.ModuleList:
        ch = self.out_channels
        fuse = []
        for i in range(self.num_branches if multiscale_output else 1):
            row: list[nn.Module | None] = []
            for j in range(self.num_branches):
                if j > i:  # lower resolution -> 1x1 conv, BN, nearest upsampling
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(ch[j], ch[i], 1, bias=False),
                            nn.BatchNorm2d(ch[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:  # higher resolution -> (i - j) stride-2 3x3 convs, ReLU on all but the last
                    steps = [_conv_bn(ch[j], ch[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(ch[j], ch[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse.append(nn.ModuleList(row))
        return nn.ModuleList(fuse)

    def forward(self, x: list[Tensor]) -> list[Tensor]:
        if len(x) != self.num_branches:
            raise ValueError(f"HRModule expects {self.num_branches} inputs, got {len(x)}")
        x = [branch(t) for branch, t in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        out = []
        for row in self.fuse_layers:
            y: Tensor | int = 0
            for j, layer in enumerate(row):  # summed in MMPose's order (j = 0, 1, ...)
                y = y + (x[j] if layer is None else layer(x[j]))
            out.append(self.relu(y))
        return out


class HRNet(nn.Module):
    """MMPose's ``HRNet`` for the given four stages.

    Args:
        stages: four :class:`HRNetStage` (stage 1: one branch, one module).
        in_channels: input image channels.
        multiscale_output: whether the last stage-4 module outputs every branch (MMPose pose configs: False).

    Forward: ``(B, in_channels, H, W)`` -> tuple of feature maps (see module docstring).
    """

    def __init__(self, stages: Sequence[HRNetStage], *, in_channels: int = 3, multiscale_output: bool = False) -> None:
        super().__init__()
        stages = tuple(stages)
        if len(stages) != 4:
            raise ValueError(f"HRNet needs 4 stages, got {len(stages)}")
        s1 = stages[0]
        if s1.num_branches != 1 or s1.num_modules != 1:
            raise ValueError(f"HRNet stage1 must have 1 branch and 1 module, got {s1}")
        for n, (prev, cur) in enumerate(zip(stages[:-1], stages[1:]), start=2):
            if cur.num_branches < prev.num_branches:
                raise ValueError(f"HRNet stage{n} has fewer branches ({cur.num_branches}) than stage{n - 1}")
        self.stages_cfg = stages
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        block1 = _BLOCKS[s1.block]
        self.layer1 = _branch(block1, s1.num_blocks[0], 64, s1.out_channels[0])
        pre = list(s1.out_channels)
        for n, stage in enumerate(stages[1:], start=2):
            self.add_module(f"transition{n - 1}", self._make_transition(pre, list(stage.out_channels)))
            pre = list(stage.out_channels)  # the transitions output the stage's branch widths
            modules = []
            for m in range(stage.num_modules):
                last = n == 4 and m == stage.num_modules - 1
                hm = HRModule(stage, pre, multiscale_output=multiscale_output or not last)
                modules.append(hm)
                pre = list(hm.out_channels)
            self.add_module(f"stage{n}", nn.Sequential(*modules))
        self.out_channels = tuple(pre) if multiscale_output else (pre[0],)

    @staticmethod
    def _make_transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(None if c == pre[i] else _conv_bn(pre[i], c, 3, 1, relu=True))
            else:  # new branch: stride-2 convs from the lowest-resolution previous branch
                steps = []
                for k in range(i + 1 - len(pre)):
                    cin = pre[-1]
                    cout = c if k == i - len(pre) else cin
                    steps.append(_conv_bn(cin, cout, 3, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.ndim != 4:
            raise ValueError(f"HRNet input must have shape (B, C, H, W), got {tuple(x.shape)}")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        y_list = [self.layer1(x)]
        for n in range(2, 5):
            transition: nn.ModuleList = getattr(self, f"transition{n - 1}")
            x_list = []
            for i, t in enumerate(transition):
                # As MMPose: every transition (new branch or width change) reads the last previous output.
                x_list.append(y_list[i] if t is None else t(y_list[-1]))
            y_list = getattr(self, f"stage{n}")(x_list)
        return tuple(y_list)


def hrnet(
    extra: Mapping[str, Any] | Sequence[HRNetStage], *, in_channels: int = 3, multiscale_output: bool = False
) -> HRNet:
    """HRNet from an MMPose ``extra`` dict (see :func:`stages_from_extra`) or four :class:`HRNetStage`."""
    stages = stages_from_extra(extra) if isinstance(extra, Mapping) else tuple(extra)
    return HRNet(stages, in_channels=in_channels, multiscale_output=multiscale_output)


def _standard(width: int) -> tuple[HRNetStage, ...]:
    w = width
    return (
        HRNetStage(1, "BOTTLENECK", (4,), (64,)),
        HRNetStage(1, "BASIC", (4, 4), (w, 2 * w)),
        HRNetStage(4, "BASIC", (4, 4, 4), (w, 2 * w, 4 * w)),
        HRNetStage(3, "BASIC", (4, 4, 4, 4), (w, 2 * w, 4 * w, 8 * w)),
    )


def hrnet_w32(*, in_channels: int = 3) -> HRNet:
    """HRNet-W32 (branch widths 32/64/128/256), output ``(B, 32, H/4, W/4)``."""
    return HRNet(_standard(32), in_channels=in_channels)


def hrnet_w48(*, in_channels: int = 3) -> HRNet:
    """HRNet-W48 (branch widths 48/96/192/384), output ``(B, 48, H/4, W/4)``."""
    return HRNet(_standard(48), in_channels=in_channels)
