"""Read a ``.tflite`` flatbuffer into plain Python objects, folding constant weight ops.

MediaPipe models store their weights as float16 (or sparse float16) constants behind ``DEQUANTIZE``
(and ``DENSIFY``) operators; both are evaluated here, once, so the returned graph holds float32
constants and only the operators that touch activations. Only the ``tflite`` parser package is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# TFLite TensorType enum -> NumPy dtype (schema.fbs).
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
_DTYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}


@dataclass(frozen=True)
class TFTensor:
    """One tensor of the graph: TFLite (NHWC) shape, dtype name, and its value when it is a constant."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None = None


@dataclass(frozen=True)
class TFOp:
    """One operator: builtin name (e.g. ``"CONV_2D"``), tensor indices (-1 = absent optional) and options."""

    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any  # the tflite.*Options flatbuffer table, or None


@dataclass(frozen=True)
class TFGraph:
    """The first subgraph with weights folded: ``ops`` are in execution (topological) order."""

    name: str
    tensors: tuple[TFTensor, ...]
    ops: tuple[TFOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def read_tflite(path: str | os.PathLike, *, name: str | None = None) -> TFGraph:
    """Parse ``path`` (a ``.tflite`` file) into a :class:`TFGraph` with DEQUANTIZE/DENSIFY folded.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for a file that is not a TFLite
    flatbuffer, and ``NotImplementedError`` for models this reader cannot represent (several
    subgraphs, DEQUANTIZE of an activation).
    """
    import tflite  # parser only needed here

    path = Path(path)
    model_name = name or path.stem
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError(f"{path} is not a TFLite flatbuffer (missing 'TFL3' identifier)")
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise NotImplementedError(f"model {model_name!r} has {model.SubgraphsLength()} subgraphs; only 1 is supported")
    graph = model.Subgraphs(0)
    op_names = _builtin_names(tflite)

    tensors: list[TFTensor] = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        data = _buffer(model, t, buf)
        dtype = _DTYPE_NAMES.get(t.Type(), f"type{t.Type()}")
        if data is not None:
            if t.Type() not in _DTYPES:
                raise NotImplementedError(f"model {model_name!r}: constant {t.Name().decode()!r} has unsupported dtype {dtype}")
            raw = np.frombuffer(data, dtype=_DTYPES[t.Type()])
            if t.Sparsity() is not None:
                arr = _densify(raw, t.Sparsity(), shape, tflite)
            else:
                arr = raw.reshape(shape).copy()
            arr = _dequantize_params(arr, t.Quantization()) if t.Type() in (3, 9, 7) and _has_scale(t) else arr
            data = arr
        tensors.append(TFTensor(t.Name().decode(), shape, dtype, data))

    ops: list[TFOp] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        op_name = op_names.get(builtin, f"BUILTIN_{builtin}")
        if op_name == "CUSTOM":
            op_name = "CUSTOM:" + (code.CustomCode() or b"").decode()
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        if op_name in ("DEQUANTIZE", "DENSIFY"):
            src = tensors[ins[0]]
            if src.data is None:
                raise NotImplementedError(f"model {model_name!r}: {op_name} of a non-constant tensor {src.name!r} (operator #{i})")
            out = tensors[outs[0]]
            value = src.data.astype(np.float32) if op_name == "DEQUANTIZE" else src.data
            tensors[outs[0]] = TFTensor(out.name, out.shape, out.dtype, value.reshape(out.shape))
            continue
        ops.append(TFOp(i, op_name, ins, outs, _options(op, op_name, tflite)))

    inputs = tuple(int(x) for x in graph.InputsAsNumpy())
    outputs = tuple(int(x) for x in graph.OutputsAsNumpy())
    return TFGraph(model_name, tuple(tensors), tuple(ops), inputs, outputs)


def _builtin_names(tflite: Any) -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _buffer(model: Any, tensor: Any, buf: bytes) -> bytes | None:
    """Raw bytes of a constant tensor, or None for an activation."""
    b = model.Buffers(tensor.Buffer())
    if b is None:
        return None
    if b.DataLength() > 0:
        return b.DataAsNumpy().tobytes()
    offset, size = int(b.Offset()), int(b.Size())
    if offset > 1 and size > 0:  # models > 2 GB keep buffers after the flatbuffer
        return buf[offset : offset + size]
    return None


def _has_scale(t: Any) -> bool:
    q = t.Quantization()
    return q is not None and q.ScaleLength() > 0


def _dequantize_params(arr: np.ndarray, q: Any) -> np.ndarray:
    """Integer constant with (per-tensor or per-axis) scale/zero point -> float32."""
    scale = q.ScaleAsNumpy().astype(np.float32)
    zero = q.ZeroPointAsNumpy().astype(np.float32) if q.ZeroPointLength() else np.zeros_like(scale)
    if scale.size > 1:
        bshape = [1] * arr.ndim
        bshape[q.QuantizedDimension()] = -1
        scale, zero = scale.reshape(bshape), zero.reshape(bshape)
    return ((arr.astype(np.float32) - zero) * scale).astype(np.float32)


def _index_vector(dm: Any, segments: bool, tflite: Any) -> np.ndarray:
    """ArraySegments / ArrayIndices union (Int32/Uint16/Uint8 vector) as int64 array."""
    kind = dm.ArraySegmentsType() if segments else dm.ArrayIndicesType()
    table = dm.ArraySegments() if segments else dm.ArrayIndices()
    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}.get(kind)
    if cls is None or table is None:
        raise NotImplementedError(f"sparse dimension metadata with index vector type {kind}")
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64) if vec.ValuesLength() else np.zeros(0, np.int64)


def _densify(values: np.ndarray, sp: Any, shape: tuple[int, ...], tflite: Any) -> np.ndarray:
    """TFLite sparse tensor (CSR-like levels, optional block map) -> dense array of ``shape``.

    Mirrors ``tflite::internal::sparsity::FormatConverter::SparseToDense``, vectorised level by level:
    expanding each parent position into its children in order reproduces the depth-first value order.
    """
    rank = len(shape)
    order = [int(x) for x in sp.TraversalOrderAsNumpy()]
    block_map = [int(x) for x in sp.BlockMapAsNumpy()] if sp.BlockMapLength() else []
    n_levels = sp.DimMetadataLength()
    block_size = [sp.DimMetadata(rank + k).DenseSize() for k in range(len(block_map))]
    idx = np.zeros((1, 0), np.int64)  # per surviving path: index at each level so far
    prev = np.zeros(1, np.int64)  # position within the level (CSR "prev_idx")
    for level in range(n_levels):
        dm = sp.DimMetadata(level)
        if dm.Format() == 0:  # dense
            n = dm.DenseSize()
            child = np.tile(np.arange(n, dtype=np.int64), len(prev))
            parent = np.repeat(np.arange(len(prev)), n)
            prev = prev[parent] * n + child
        else:  # sparse CSR
            seg = _index_vector(dm, True, tflite)
            ind = _index_vector(dm, False, tflite)
            counts = seg[prev + 1] - seg[prev]
            parent = np.repeat(np.arange(len(prev)), counts)
            starts = np.repeat(seg[prev], counts)
            offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            prev = starts + offs
            child = ind[prev]
        idx = np.concatenate([idx[parent], child[:, None]], axis=1)
    if len(idx) != values.size:
        raise ValueError(f"sparse tensor holds {values.size} values but its metadata addresses {len(idx)}")
    orig = np.zeros((len(idx), rank), np.int64)
    for level in range(rank):
        orig[:, order[level]] = idx[:, level]
    for level in range(rank, n_levels):
        k = order[level] - rank
        d = block_map[k]
        orig[:, d] = orig[:, d] * block_size[k] + idx[:, level]
    dense = np.zeros(shape, values.dtype)
    dense[tuple(orig.T)] = values
    return dense


def _options(op: Any, op_name: str, tflite: Any) -> Any:
    """The op's BuiltinOptions table decoded with the matching tflite class, or None."""
    table = op.BuiltinOptions()
    if table is None or op.BuiltinOptionsType() == 0:
        return None
    from tflite.BuiltinOptions import BuiltinOptions

    names = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
    cls_name = names.get(op.BuiltinOptionsType())
    cls = getattr(tflite, cls_name, None) if cls_name else None
    if cls is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts
