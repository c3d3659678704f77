"""PyTorch layers for the converted TFLite operators (activations in NCHW, everything precomputed).

Every layer is built from one spec node ``{"kind", "attrs"}`` plus its weights (PyTorch layout) by
:func:`build_layer`. Rank-4 activations are NCHW; tensors of other ranks keep their TFLite layout.
Parameterised layers are real ``nn.Conv2d`` / ``nn.Linear`` / ``nn.PReLU`` subclasses, so their
``state_dict`` keys are the usual ``weight`` / ``bias``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _relu_n1_to_1(x: Tensor) -> Tensor:
    return x.clamp_(-1.0, 1.0)


def _relu6(x: Tensor) -> Tensor:
    return x.clamp_(0.0, 6.0)


# In-place activations, applied to freshly computed outputs only (never to a layer's input).
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor] | None] = {
    "none": None,
    "relu": torch.relu_,
    "relu6": _relu6,
    "relu_n1_to_1": _relu_n1_to_1,
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
}


def _activation(name: str) -> Callable[[Tensor], Tensor] | None:
    if name not in ACTIVATIONS:
        raise NotImplementedError(f"fused activation {name!r} is not supported")
    return ACTIVATIONS[name]


class TFConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TFLite's asymmetric 'SAME' padding and a fused activation.

    ``pads`` = (top, bottom, left, right) zeros; symmetric pads use the native conv padding.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, *, stride: list[int], dilation: list[int],
                 groups: int, pads: list[int], activation: str) -> None:
        out_ch, in_per_group, kh, kw = weight.shape
        top, bottom, left, right = pads
        symmetric = top == bottom and left == right
        super().__init__(in_per_group * groups, out_ch, (kh, kw), stride=tuple(stride),
                         padding=(top, left) if symmetric else 0, dilation=tuple(dilation), groups=groups,
                         bias=bias is not None)
        self.tf_pad = None if symmetric else (left, right, top, bottom)
        self.act = _activation(activation)
        with torch.no_grad():
            self.weight.copy_(weight)
            if bias is not None:
                self.bias.copy_(bias)

    def reset_parameters(self) -> None:  # weights always come from the converted model
        pass

    def forward(self, x: Tensor) -> Tensor:
        if self.tf_pad is not None:
            x = F.pad(x, self.tf_pad)
        y = self._conv_forward(x, self.weight, self.bias)
        return y if self.act is None else self.act(y)


class TFLinear(nn.Linear):
    """FULLY_CONNECTED: input flattened like TFLite (NHWC order) to ``(B, in_features)``."""

    def __init__(self, weight: Tensor, bias: Tensor | None, *, in_rank4: bool, activation: str) -> None:
        super().__init__(weight.shape[1], weight.shape[0], bias=bias is not None)
        self.in_rank4 = in_rank4
        self.act = _activation(activation)
        with torch.no_grad():
            self.weight.copy_(weight)
            if bias is not None:
                self.bias.copy_(bias)

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        if self.in_rank4:
            x = x.permute(0, 2, 3, 1)
        y = F.linear(x.reshape(x.shape[0], -1), self.weight, self.bias)
        return y if self.act is None else self.act(y)


class TFPReLU(nn.PReLU):
    """PRELU with one slope per channel (channel dim 1: NCHW or ``(B, C)``)."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__(num_parameters=weight.numel())
        with torch.no_grad():
            self.weight.copy_(weight)

    def reset_parameters(self) -> None:
        pass


BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
    "maximum": torch.maximum, "minimum": torch.minimum,
}


class Binary(nn.Module):
    """Elementwise ADD / SUB / MUL / DIV / MAXIMUM / MINIMUM with broadcasting and fused activation.

    With ``const`` given, that operand is a constant buffer (already in the activation's layout)
    at position ``const_index`` (0 = left, 1 = right). ``_FUNCS`` is the op table (a subclass may extend it).
    """

    _FUNCS: dict[str, Callable[[Tensor, Tensor], Tensor]] = BINARY

    def __init__(self, *, op: str, activation: str, const: Tensor | None = None, const_index: int = 1) -> None:
        super().__init__()
        self.fn = self._FUNCS[op]
        self.act = _activation(activation)
        self.const_index = const_index
        if const is not None:
            self.register_buffer("const", const.clone())
        else:
            self.const = None

    def forward(self, a: Tensor, b: Tensor | None = None) -> Tensor:
        if self.const is not None:
            a, b = (self.const, a) if self.const_index == 0 else (a, self.const)
        y = self.fn(a, b)
        return y if self.act is None else self.act(y)


def _hard_swish(x: Tensor) -> Tensor:
    return F.hardswish(x)


def _clamp_n1_1(x: Tensor) -> Tensor:
    return x.clamp(-1.0, 1.0)


UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "relu6": F.relu6,
    "relu_n1_to_1": _clamp_n1_1,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "hard_swish": _hard_swish,
}


class Unary(nn.Module):
    """Standalone activation op (RELU, RELU6, RELU_N1_TO_1, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU); ``_FUNCS`` is
    the op table (a subclass may extend it)."""

    _FUNCS: dict[str, Callable[[Tensor], Tensor]] = UNARY

    def __init__(self, *, fn: str, alpha: float = 0.0) -> None:
        super().__init__()
        if fn == "leaky_relu":
            self.fn = functools.partial(F.leaky_relu, negative_slope=alpha)
        elif fn in self._FUNCS:
            self.fn = self._FUNCS[fn]
        else:
            raise NotImplementedError(f"unary op {fn!r} is not supported")

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


class Concat(nn.Module):
    """CONCATENATION along ``dim`` (already mapped to the torch layout), fused activation."""

    def __init__(self, *, dim: int, activation: str) -> None:
        super().__init__()
        self.dim, self.act = dim, _activation(activation)

    def forward(self, *xs: Tensor) -> Tensor:
        y = torch.cat(xs, dim=self.dim)
        return y if self.act is None else self.act(y)


class Reshape(nn.Module):
    """RESHAPE/SQUEEZE keeping the batch: NCHW -> NHWC before, NHWC -> NCHW after when rank 4."""

    def __init__(self, *, shape: list[int], in_rank4: bool, out_rank4: bool) -> None:
        super().__init__()
        self.shape, self.in_rank4, self.out_rank4 = tuple(shape), in_rank4, out_rank4

    def forward(self, x: Tensor) -> Tensor:
        if self.in_rank4:
            x = x.permute(0, 2, 3, 1)
        x = x.reshape((x.shape[0],) + self.shape)
        return x.permute(0, 3, 1, 2) if self.out_rank4 else x


class ResizeBilinear(nn.Module):
    """RESIZE_BILINEAR to ``size`` (H, W).

    ``half_pixel`` (TF2 ``half_pixel_centers``) == torch ``align_corners=False``; ``align_corners`` ==
    torch ``align_corners=True``; ``legacy`` (both flags False: src = dst * in / out, clamped) is a
    separable interpolation with precomputed matrices.
    """

    def __init__(self, *, size: list[int], mode: str, in_size: list[int]) -> None:
        super().__init__()
        self.size, self.mode = tuple(size), mode
        if mode == "legacy":
            self.register_buffer("mh", _legacy_matrix(in_size[0], size[0]), persistent=False)
            self.register_buffer("mw", _legacy_matrix(in_size[1], size[1]), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "legacy":
            return torch.einsum("oh,bchw,pw->bcop", self.mh.to(x.dtype), x, self.mw.to(x.dtype))
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.mode == "align_corners")


def _legacy_matrix(n_in: int, n_out: int) -> Tensor:
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    lo = src.floor().clamp(max=n_in - 1).long()
    hi = src.ceil().clamp(max=n_in - 1).long()
    frac = src - src.floor()
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    m[torch.arange(n_out), lo] += 1 - frac
    m[torch.arange(n_out), hi] += frac
    return m.float()


class Pool2d(nn.Module):
    """MAX_POOL_2D / AVERAGE_POOL_2D with TFLite padding (pads are excluded from max and mean)."""

    def __init__(self, *, kind: str, kernel: list[int], stride: list[int], pads: list[int], activation: str,
                 in_size: list[int]) -> None:
        super().__init__()
        self.kind, self.kernel, self.stride = kind, tuple(kernel), tuple(stride)
        top, bottom, left, right = pads
        self.act = _activation(activation)
        self.native = top == bottom and left == right and top <= kernel[0] // 2 and left <= kernel[1] // 2
        self.padding = (top, left) if self.native else (0, 0)
        self.tf_pad = None if self.native else (left, right, top, bottom)
        if kind == "avg" and not self.native:
            ones = torch.ones(1, 1, *in_size)
            counts = F.avg_pool2d(F.pad(ones, self.tf_pad), self.kernel, self.stride, divisor_override=1)
            self.register_buffer("scale", kernel[0] * kernel[1] / counts, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "max":
            if self.tf_pad is not None:
                x = F.pad(x, self.tf_pad, value=float("-inf"))
            y = F.max_pool2d(x, self.kernel, self.stride, self.padding)
        elif self.tf_pad is None:
            y = F.avg_pool2d(x, self.kernel, self.stride, self.padding, count_include_pad=False)
        else:
            y = F.avg_pool2d(F.pad(x, self.tf_pad), self.kernel, self.stride) * self.scale.to(x.dtype)
        return y if self.act is None else self.act(y)


class Pad(nn.Module):
    """PAD / PADV2 with a constant value; ``pads`` is the torch ``F.pad`` tuple (last dim first)."""

    def __init__(self, *, pads: list[int], value: float = 0.0) -> None:
        super().__init__()
        self.pads, self.value = tuple(pads), value

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.pads, value=self.value)


class DepthToSpace(nn.Module):
    """DEPTH_TO_SPACE on NCHW with TensorFlow's channel order (block row, block col, channel)."""

    def __init__(self, *, block: int) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        r = self.block
        x = x.reshape(b, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
        return x.reshape(b, c // (r * r), h * r, w * r)


class Mean(nn.Module):
    """MEAN over ``dims``; ``nhwc`` permutes a rank-4 input first (when the output drops to rank < 4)."""

    def __init__(self, *, dims: list[int], keepdim: bool, nhwc: bool) -> None:
        super().__init__()
        self.dims, self.keepdim, self.nhwc = tuple(dims), keepdim, nhwc

    def forward(self, x: Tensor) -> Tensor:
        if self.nhwc:
            x = x.permute(0, 2, 3, 1)
        return x.mean(dim=self.dims, keepdim=self.keepdim)


class StridedSlice(nn.Module):
    """STRIDED_SLICE with constant begin/end/strides; ``nhwc`` slices a rank-4 input in NHWC order."""

    def __init__(self, *, slices: list[list[int | None]], squeeze: list[int], nhwc: bool, out_rank4: bool) -> None:
        super().__init__()
        self.index = tuple(slice(*s) for s in slices)
        self.squeeze, self.nhwc, self.out_rank4 = tuple(squeeze), nhwc, out_rank4

    def forward(self, x: Tensor) -> Tensor:
        if self.nhwc:
            x = x.permute(0, 2, 3, 1)
        y = x[self.index]
        if self.squeeze:
            y = y.squeeze(self.squeeze)
        return y.permute(0, 3, 1, 2) if self.nhwc and self.out_rank4 else y


class Transpose(nn.Module):
    """TRANSPOSE by ``dims``, already mapped to the torch layout of the input and the output."""

    def __init__(self, *, dims: list[int]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(self.dims)


def build_layer(kind: str, attrs: dict, params: dict[str, Tensor]) -> nn.Module:
    """One spec node -> module. ``params`` holds this node's tensors (``weight``, ``bias``, ``const``)."""
    if kind == "conv2d":
        return TFConv2d(params["weight"], params.get("bias"), **attrs)
    if kind == "linear":
        return TFLinear(params["weight"], params.get("bias"), **attrs)
    if kind == "prelu":
        return TFPReLU(params["weight"])
    if kind == "binary":
        return Binary(const=params.get("const"), **attrs)
    if kind == "unary":
        return Unary(**attrs)
    if kind == "concat":
        return Concat(**attrs)
    if kind == "reshape":
        return Reshape(**attrs)
    if kind == "resize_bilinear":
        return ResizeBilinear(**attrs)
    if kind == "pool2d":
        return Pool2d(**attrs)
    if kind == "pad":
        return Pad(**attrs)
    if kind == "depth_to_space":
        return DepthToSpace(**attrs)
    if kind == "mean":
        return Mean(**attrs)
    if kind == "strided_slice":
        return StridedSlice(**attrs)
    if kind == "transpose":
        return Transpose(**attrs)
    raise NotImplementedError(f"layer kind {kind!r} is not supported")
