"""Read a TensorFlow.js graph model (``model.json`` + weight shards) into plain Python objects.

``model.json`` holds ``modelTopology`` (a GraphDef: nodes with ``name``, ``op``, ``input``, ``attr``) and
``weightsManifest`` (groups of shard ``paths`` and ``weights`` entries ``{name, shape, dtype,
quantization?}``). The shards of all groups are read in manifest order and each group's bytes are split
into its weights in order. Quantised weights are dequantised here, once: ``float16`` storage to float32,
``uint8`` / ``uint16`` as ``q * scale + min``. Only NumPy is needed.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# weightsManifest dtype (or quantization dtype) -> NumPy storage dtype (little endian).
_STORAGE: dict[str, Any] = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "float16": np.float16,
    "uint8": np.uint8,
    "uint16": np.uint16,
}
_OUT_DTYPES: dict[str, Any] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


@dataclass(frozen=True)
class TFJSNode:
    """One GraphDef node: ``inputs`` are tensor references (``"name"``, ``"name:1"``; ``"^name"`` control
    inputs are dropped) and ``attr`` is the raw JSON attribute map (see :func:`attr_value`)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict


@dataclass(frozen=True)
class TFJSModel:
    """A parsed graph model: ``nodes`` in file order and ``weights`` (node name -> array in the TensorFlow
    layout given by the manifest: conv filters HWIO, depthwise HWCM; float weights as float32)."""

    name: str
    nodes: tuple[TFJSNode, ...]
    weights: dict[str, np.ndarray]
    signature: dict


def attr_value(attr: dict, key: str, default: Any = None) -> Any:
    """Decode one GraphDef attribute: ``s`` (base64 -> str), ``i``, ``f``, ``b``, ``type``, ``list`` of
    ``i`` / ``f`` / ``s``, ``shape`` (list of dims); ``default`` when absent."""
    if key not in attr:
        return default
    v = attr[key]
    if "s" in v:
        return base64.b64decode(v["s"]).decode()
    if "i" in v:
        return int(v["i"])
    if "f" in v:
        return float(v["f"])
    if "b" in v:
        return bool(v["b"])
    if "type" in v:
        return v["type"]
    if "list" in v:
        lst = v["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "f" in lst:
            return [float(x) for x in lst["f"]]
        return [int(x) for x in lst.get("i", [])]
    if "shape" in v:
        return [int(d.get("size", -1)) for d in v["shape"].get("dim", [])]
    return v


def read_tfjs(path: str | os.PathLike, *, name: str | None = None) -> TFJSModel:
    """Parse ``path`` (a ``model.json``) and its shards (relative to its folder) into a :class:`TFJSModel`.

    Raises ``FileNotFoundError`` naming the missing ``model.json`` or shard, ``ValueError`` for a file that
    is not a graph model, a weight dtype or quantisation dtype that is not known, or shards whose total
    size differs from what the manifest describes.
    """
    path = Path(path)
    name = name or path.stem
    if not path.is_file():
        raise FileNotFoundError(f"TensorFlow.js model file not found: {path}")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a TensorFlow.js model.json: {err}") from None
    if not isinstance(doc, dict) or "modelTopology" not in doc or "weightsManifest" not in doc:
        raise ValueError(f"{path} is not a TensorFlow.js graph model (no modelTopology/weightsManifest)")
    topo = doc["modelTopology"]
    if "node" not in topo:
        raise ValueError(f"{path}: modelTopology has no GraphDef 'node' list (a layers model is not supported)")
    nodes = tuple(
        TFJSNode(n["name"], n["op"], tuple(i for i in n.get("input", []) if not i.startswith("^")), n.get("attr", {}))
        for n in topo["node"]
    )
    weights: dict[str, np.ndarray] = {}
    for g, group in enumerate(doc["weightsManifest"]):
        blob = b"".join(_read_shard(path, p) for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            arr, offset = _decode(path, g, w, blob, offset)
            weights[w["name"]] = arr
        if offset != len(blob):
            raise ValueError(
                f"{path}: weightsManifest group {g} ({', '.join(group['paths'])}) describes "
                f"{offset} bytes but its shards hold {len(blob)}"
            )
    return TFJSModel(name, nodes, weights, doc.get("signature", {}))


def _read_shard(model_json: Path, rel: str) -> bytes:
    shard = model_json.parent / rel
    if not shard.is_file():
        raise FileNotFoundError(f"{model_json}: weight shard {rel!r} named in weightsManifest not found at {shard}")
    return shard.read_bytes()


def _decode(path: Path, g: int, w: dict, blob: bytes, offset: int) -> tuple[np.ndarray, int]:
    """One manifest entry -> (array dequantised to its declared dtype, next byte offset)."""
    wname, dtype, shape = w["name"], w["dtype"], [int(s) for s in w["shape"]]
    quant = w.get("quantization")
    storage = quant["dtype"] if quant else dtype
    if dtype not in _OUT_DTYPES:
        raise ValueError(f"{path}: weight {wname!r} (group {g}) has dtype {dtype!r}; known: {sorted(_OUT_DTYPES)}")
    if storage not in _STORAGE or (quant and storage not in ("float16", "uint8", "uint16")):
        raise ValueError(
            f"{path}: weight {wname!r} (group {g}) has quantization dtype {storage!r}; known: float16, uint8, uint16"
        )
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * np.dtype(_STORAGE[storage]).itemsize
    if offset + nbytes > len(blob):
        raise ValueError(
            f"{path}: weight {wname!r} (group {g}) needs bytes {offset}..{offset + nbytes} but the "
            f"group's shards hold only {len(blob)}"
        )
    raw = np.frombuffer(blob, dtype=np.dtype(_STORAGE[storage]).newbyteorder("<"), count=count, offset=offset)
    if storage in ("uint8", "uint16"):
        values = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
        if dtype == "int32":
            values = np.round(values)
    else:
        values = raw
    return values.astype(_OUT_DTYPES[dtype]).reshape(shape), offset + nbytes
