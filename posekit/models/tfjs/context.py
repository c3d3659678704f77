"""Conversion state shared by the op converters: values of graph tensors, emitted layers, layouts.

An activation lives in one of two layouts: ``"nchw"`` (rank-4 tensors, the layout of the TFLite op
table's image layers; batch-generic) or ``"tf"`` (exactly the graph's tensor: batch 1, NHWC for rank
4). Rank < 4 tensors are always ``"tf"``. :meth:`Context.ensure` inserts a layer when an op needs the
other layout (once per tensor and layout). A graph with ``"tf"``-layout layers gets a ``batch_one``
check on each input (:meth:`Context.finish`), so a batch > 1 fails loudly instead of being cut to 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..tflite.convert import SPEC_FORMAT
from .reader import TFJSModel, TFJSNode


def ref_key(ref: str) -> str:
    """Tensor reference -> value key: ``"node"`` / ``"node:0"`` -> ``"node"``, ``"node:k"`` -> ``"node:k"``."""
    return ref.removesuffix(":0")


# Layer kinds that hold the graph's batch-1 semantics (indices, fixed full shapes).
# (Slices of the graph's tensors set ``Context.batch_one`` themselves: a split's slices are batch-generic.)
BATCH_ONE_KINDS = frozenset(
    {
        "full_reshape",
        "argmax",
        "gather_nd",
        "stack",
        "tf_nary",
        "topk",
        "tile",
        "reduce",
        "tf_binary",
        "cast",
        "tf_unary",
    }
)


class Act:
    """An activation: key of the layer output holding it, its batch-1 trace (torch tensor) and layout."""

    def __init__(self, key: str, trace: torch.Tensor, layout: str) -> None:
        self.key, self.trace = key, trace
        self.layout = layout if trace.ndim == 4 else "tf"

    @property
    def tf_shape(self) -> tuple[int, ...]:
        s = tuple(self.trace.shape)
        return (s[0], s[2], s[3], s[1]) if self.layout == "nchw" else s


class Context:
    """State of one graph conversion; ``build_layer`` is the op table used to trace emitted layers."""

    def __init__(self, model: TFJSModel, build_layer: Callable[[str, dict, dict], nn.Module]) -> None:
        self.model, self.build_layer = model, build_layer
        self.values: dict[str, np.ndarray | Act] = {}
        self.layers: list[dict] = []
        self.params: list[dict[str, np.ndarray]] = []
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, int] = {}
        self._relaid: dict[tuple[str, str], Act] = {}
        self.batch_one = False  # the module must refuse a batch > 1
        self.output_keys = {ref_key(v["name"]) for v in model.signature.get("outputs", {}).values()}
        for n in model.nodes:
            for ref in n.inputs:
                k = ref_key(ref)
                self.consumers[k] = self.consumers.get(k, 0) + 1

    def fail(self, node: TFJSNode, why: str) -> None:
        raise NotImplementedError(
            f"TensorFlow.js op {node.op} (node {node.name!r}) in model {self.model.name!r}: {why}"
        )

    def get(self, node: TFJSNode, k: int) -> np.ndarray | Act:
        return self.values[ref_key(node.inputs[k])]

    def const(self, node: TFJSNode, k: int, what: str) -> np.ndarray:
        v = self.get(node, k)
        if isinstance(v, Act):
            self.fail(node, f"its {what} (input {k}) is not a constant")
        return v

    def act(self, node: TFJSNode, k: int = 0, layout: str | None = None) -> Act:
        v = self.get(node, k)
        if not isinstance(v, Act):
            self.fail(node, f"input {k} is a constant where an activation is expected")
        return v if layout is None else self.ensure(v, layout)

    def ensure(self, a: Act, layout: str) -> Act:
        """``a`` in ``layout`` (a ``transpose`` layer when rank 4 and in the other layout)."""
        if a.trace.ndim != 4 or a.layout == layout:
            return a
        if (a.key, layout) not in self._relaid:
            dims = [0, 2, 3, 1] if layout == "tf" else [0, 3, 1, 2]
            self._relaid[(a.key, layout)] = self.emit(
                f"{a.key}/{layout}", "transpose", [a], {"dims": dims}, layout=layout
            )
        return self._relaid[(a.key, layout)]

    def emit(
        self, key: str, kind: str, inputs: list[Act], attrs: dict, params: dict | None = None, *, layout: str = "nchw"
    ) -> Act:
        """Append one layer reading ``inputs``; its output is stored as ``key`` in ``layout``."""
        params = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in (params or {}).items()}
        layer = self.build_layer(kind, attrs, {k: torch.from_numpy(v) for k, v in params.items()})
        with torch.inference_mode():
            trace = layer(*[a.trace for a in inputs])
        self.batch_one |= kind in BATCH_ONE_KINDS
        self.layers.append({"kind": kind, "inputs": [a.key for a in inputs], "output": key, "attrs": attrs})
        self.params.append(params)
        self.producer[key] = len(self.layers) - 1
        out = Act(key, trace, layout)
        self.values[key] = out
        return out

    def finish(
        self, inputs: list[tuple[str, Act]], outputs: list[tuple[str, Act]]
    ) -> tuple[dict, dict[str, torch.Tensor]]:
        """The spec (``posekit.models.tflite`` format) and its tensors ``layers.{i}.{name}``."""
        slots = {a.key: i for i, (_, a) in enumerate(inputs)}
        emitted = list(zip(self.layers, self.params))
        if self.batch_one:
            renamed = {a.key: a.key + "/batch1" for _, a in inputs}
            emitted = [
                ({"kind": "batch_one", "inputs": [a.key], "output": renamed[a.key], "attrs": {}}, {}) for _, a in inputs
            ] + [
                ({**layer, "inputs": [renamed.get(key, key) for key in layer["inputs"]]}, params)
                for layer, params in emitted
            ]
        layers, tensors = [], {}
        for k, (layer, params) in enumerate(emitted):
            slots[layer["output"]] = len(slots)
            layers.append(
                {**layer, "inputs": [slots[key] for key in layer["inputs"]], "output": slots[layer["output"]]}
            )
            for pname, arr in params.items():
                tensors[f"layers.{k}.{pname}"] = torch.from_numpy(arr)
        spec = {
            "format": SPEC_FORMAT,
            "name": self.model.name,
            "inputs": [{"name": n, "shape": list(a.tf_shape), "slot": slots[a.key]} for n, a in inputs],
            "outputs": [{"name": n, "shape": list(a.tf_shape), "slot": slots[a.key]} for n, a in outputs],
            "num_slots": len(slots),
            "layers": layers,
        }
        return spec, tensors
