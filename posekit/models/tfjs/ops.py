"""Layers for TensorFlow.js ops that the TFLite op table lacks, in the graph's own (TensorFlow) layout.

They run in the "tf" layout of :mod:`posekit.models.tfjs.convert`: the tensor is exactly the graph's
tensor (batch 1, NHWC for rank 4); the converter inserts ``transpose`` layers between this layout and the
NCHW layout of convolutions. Mostly the post-processing inside MoveNet graphs (ArgMax, GatherNd, integer
arithmetic). :func:`build_layer` falls back to :func:`posekit.models.tflite.ops.build_layer`, so one
spec holds layers of both tables.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from ..tflite import ops as tflite_ops


def _floordiv(a: Tensor, b: Tensor) -> Tensor:
    return torch.floor_divide(a, b)


def _squared_difference(a: Tensor, b: Tensor) -> Tensor:
    return (a - b) * (a - b)


class TFBinary(tflite_ops.Binary):
    """The TFLite table's elementwise op (no fused activation here) with TensorFlow.js's further ops: integer
    division, squared difference, comparisons, logical and."""

    _FUNCS = {
        **tflite_ops.BINARY,
        "floordiv": _floordiv,
        "squared_difference": _squared_difference,
        "less": torch.lt,
        "greater": torch.gt,
        "greater_equal": torch.ge,
        "equal": torch.eq,
        "logical_and": torch.logical_and,
    }


class TFUnary(tflite_ops.Unary):
    """The TFLite table's standalone op with Sqrt / Exp / Abs / Reciprocal."""

    _FUNCS = {**tflite_ops.UNARY, "sqrt": torch.sqrt, "exp": torch.exp, "abs": torch.abs,
              "reciprocal": torch.reciprocal}


class FullReshape(nn.Module):
    """Reshape to a fixed full ``shape`` (batch included; the graph's batch-1 tensors)."""

    def __init__(self, *, shape: list[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(self.shape)


class BatchOne(nn.Module):
    """Identity on a graph input that raises for a batch > 1 (graphs with batch-1 ``"tf"``-layout layers)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] != 1:
            raise ValueError(
                f"this converted graph runs its post-processing on batch 1 only, got a batch of {x.shape[0]}"
            )
        return x


class ArgMax(nn.Module):
    """ArgMax along ``dim`` -> int64 indices (ties: the first, as TensorFlow)."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return torch.argmax(x, dim=self.dim)


class TopK(nn.Module):
    """TopKV2 over the last axis: ``values`` or ``indices`` of the ``k`` largest, ties to the lower index."""

    def __init__(self, *, k: int, output: str) -> None:
        super().__init__()
        self.k, self.indices = k, output == "indices"

    def forward(self, x: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():  # a stable sort has no ONNX form; ONNX TopK also breaks ties to the lower
            values, indices = torch.topk(x, self.k, dim=-1, largest=True, sorted=True)  # index, as TensorFlow
            return indices if self.indices else values
        values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
        return indices[..., : self.k] if self.indices else values[..., : self.k]


_CAST_DTYPES = {"float": torch.float32, "int": torch.int64, "bool": torch.bool}


class Cast(nn.Module):
    """Cast to ``float`` (float32), ``int`` (int64, truncating like TensorFlow) or ``bool``."""

    def __init__(self, *, to: str) -> None:
        super().__init__()
        self.dtype = _CAST_DTYPES[to]

    def forward(self, x: Tensor) -> Tensor:
        return x.to(self.dtype)


class Stack(nn.Module):
    """Pack: stack the inputs along ``dim``; ``consts`` (a buffer) fills positions ``const_positions``."""

    def __init__(self, *, dim: int, n: int, const_positions: list[int], consts: Tensor | None = None) -> None:
        super().__init__()
        self.dim, self.n, self.const_positions = dim, n, tuple(const_positions)
        if consts is not None:
            self.register_buffer("consts", consts.clone())
        else:
            self.consts = None

    def forward(self, *xs: Tensor) -> Tensor:
        it, parts = iter(xs), []
        for k in range(self.n):
            if k in self.const_positions:
                parts.append(self.consts[self.const_positions.index(k)])
            else:
                parts.append(next(it))
        dtype = functools.reduce(torch.promote_types, (p.dtype for p in parts))
        return torch.stack([p.to(dtype) for p in parts], dim=self.dim)


class TFNary(nn.Module):
    """An op of ``n`` operands, constants (buffers ``const{k}``) at ``const_positions``:
    ``concat`` (along ``dim``, dtypes promoted), ``select`` (cond, then, else), ``add_n``."""

    def __init__(self, *, op: str, n: int, const_positions: list[int], consts: dict[str, Tensor], dim: int = 0) -> None:
        super().__init__()
        self.op, self.n, self.dim, self.const_positions = op, n, dim, tuple(const_positions)
        for k in const_positions:
            self.register_buffer(f"const{k}", consts[f"const{k}"].clone())

    def forward(self, *xs: Tensor) -> Tensor:
        it = iter(xs)
        parts = [getattr(self, f"const{k}") if k in self.const_positions else next(it) for k in range(self.n)]
        if self.op == "select":
            return torch.where(parts[0].bool(), parts[1], parts[2])
        dtype = functools.reduce(torch.promote_types, (p.dtype for p in parts))
        if self.op == "add_n":
            return functools.reduce(torch.add, (p.to(dtype) for p in parts))
        return torch.cat([p.to(dtype) for p in parts], dim=self.dim)


class Tile(nn.Module):
    """Tile by ``reps`` (one per axis)."""

    def __init__(self, *, reps: list[int]) -> None:
        super().__init__()
        self.reps = tuple(reps)

    def forward(self, x: Tensor) -> Tensor:
        return x.repeat(self.reps)


class Reduce(nn.Module):
    """Sum / Max over ``dims`` (graph layout)."""

    def __init__(self, *, op: str, dims: list[int], keepdim: bool) -> None:
        super().__init__()
        self.op, self.dims, self.keepdim = op, tuple(dims), keepdim

    def forward(self, x: Tensor) -> Tensor:
        if self.op == "sum":
            return x.sum(dim=self.dims, keepdim=self.keepdim)
        return x.amax(dim=self.dims, keepdim=self.keepdim)


class GatherNd(nn.Module):
    """GatherNd: ``indices`` (..., K) index the first K axes of ``params`` -> indices.shape[:-1] + rest.

    Constant indices are a buffer (stored as float32, exact for indices below 2**24).
    """

    def __init__(self, indices: Tensor | None = None) -> None:
        super().__init__()
        if indices is not None:
            self.register_buffer("indices", indices.clone())
        else:
            self.indices = None

    def forward(self, params: Tensor, indices: Tensor | None = None) -> Tensor:
        idx = (self.indices if indices is None else indices).long()
        return params[tuple(idx[..., k] for k in range(idx.shape[-1]))]


def build_layer(kind: str, attrs: dict, params: dict[str, Tensor]) -> nn.Module:
    """One spec node -> module: the layers above, else the TFLite op table's."""
    if kind == "tf_binary":
        return TFBinary(activation="none", const=params.get("const"), **attrs)
    if kind == "tf_unary":
        return TFUnary(**attrs)
    if kind == "full_reshape":
        return FullReshape(**attrs)
    if kind == "batch_one":
        return BatchOne()
    if kind == "argmax":
        return ArgMax(**attrs)
    if kind == "topk":
        return TopK(**attrs)
    if kind == "cast":
        return Cast(**attrs)
    if kind == "stack":
        return Stack(consts=params.get("consts"), **attrs)
    if kind == "tf_nary":
        return TFNary(consts=params, **attrs)
    if kind == "tile":
        return Tile(**attrs)
    if kind == "reduce":
        return Reduce(**attrs)
    if kind == "gather_nd":
        return GatherNd(params.get("indices"))
    return tflite_ops.build_layer(kind, attrs, params)
