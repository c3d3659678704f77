"""The converted network: a flat list of layers walked in order over a slot table."""

from __future__ import annotations

import json
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .convert import SPEC_FORMAT
from .ops import build_layer


class TFLiteGraph(nn.Module):
    """A TFLite graph rebuilt from PyTorch layers.

    ``forward(*inputs)`` takes one NCHW float tensor per TFLite input, ``(B, C, H, W)`` for a TFLite
    input of shape ``(1, H, W, C)`` (any batch size ``B``; channels_last memory format is fine), and
    returns a tuple with one tensor per TFLite output, in TFLite output order and TFLite layout with
    the batch replaced by ``B``: rank-4 outputs are NHWC ``(B, H, W, C)`` (contiguous), others as
    TFLite shapes them (e.g. ``(B, 2254, 12)``, ``(B, 195)``). Values are raw model outputs.

    Speed: on CPU prefer ``module.to(memory_format=torch.channels_last)`` with channels_last inputs
    (same outputs; 1x1 convolutions on NCHW 112x112 maps are ~10x slower in oneDNN).

    Attributes: ``name`` (model name), ``input_shapes`` / ``output_shapes`` (TFLite shapes, batch 1),
    ``input_names`` / ``output_names`` (TFLite tensor names), ``spec`` (the parsed spec dict).
    """

    def __init__(self, spec: dict, layers: list[nn.Module]) -> None:
        super().__init__()
        self.spec = spec
        self.name = spec["name"]
        self.layers = nn.ModuleList(layers)
        self.input_names = tuple(t["name"] for t in spec["inputs"])
        self.output_names = tuple(t["name"] for t in spec["outputs"])
        self.input_shapes = tuple(tuple(t["shape"]) for t in spec["inputs"])
        self.output_shapes = tuple(tuple(t["shape"]) for t in spec["outputs"])
        self._input_slots = tuple(t["slot"] for t in spec["inputs"])
        self._output_slots = tuple(t["slot"] for t in spec["outputs"])
        self._output_nhwc = tuple(len(s) == 4 for s in self.output_shapes)
        # Expected per-sample torch shapes of the inputs (NCHW for rank 4).
        self._input_tails = tuple(
            (s[3], s[1], s[2]) if len(s) == 4 else tuple(s[1:]) for s in self.input_shapes
        )
        # Free every slot after its last read so intermediate activations do not pile up.
        last_use: dict[int, int] = {}
        for k, node in enumerate(spec["layers"]):
            for s in node["inputs"]:
                last_use[s] = k
        keep = set(self._output_slots)
        frees: list[list[int]] = [[] for _ in spec["layers"]]
        for s, k in last_use.items():
            if s not in keep:
                frees[k].append(s)
        self._plan = tuple(
            (tuple(node["inputs"]), node["output"], tuple(frees[k])) for k, node in enumerate(spec["layers"])
        )
        self._num_slots = spec["num_slots"]

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        if len(inputs) != len(self._input_slots):
            raise ValueError(f"{self.name} takes {len(self._input_slots)} input(s), got {len(inputs)}")
        vals: list[Tensor | None] = [None] * self._num_slots
        for slot, tail, x in zip(self._input_slots, self._input_tails, inputs):
            if tuple(x.shape[1:]) != tail:
                raise ValueError(f"{self.name} input must have shape (B, {', '.join(map(str, tail))}), got {tuple(x.shape)}")
            vals[slot] = x
        for layer, (ins, out, frees) in zip(self.layers, self._plan):
            vals[out] = layer(*[vals[s] for s in ins])
            for s in frees:
                vals[s] = None
        return tuple(
            vals[s].permute(0, 2, 3, 1).contiguous() if nhwc else vals[s]
            for s, nhwc in zip(self._output_slots, self._output_nhwc)
        )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, inputs={self.input_shapes}, outputs={self.output_shapes}"


def build_module(spec_json: str, tensors: dict[str, torch.Tensor], *,
                 layer_builder: Callable[[str, dict, dict[str, Tensor]], nn.Module] = build_layer) -> TFLiteGraph:
    """Rebuild the converted network from ``convert_file``'s spec and weights (no ``tflite`` needed).

    ``layer_builder(kind, attrs, params)`` makes one layer (default: this package's op table; the
    TensorFlow.js converter passes its table, which extends this one).

    ``tensors`` is not modified (weights are copied into the module); its keys must be exactly the
    module's ``state_dict()`` keys. Returns a :class:`TFLiteGraph` in eval mode, float32, on CPU.
    """
    spec = json.loads(spec_json)
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        found = spec.get("format") if isinstance(spec, dict) else type(spec).__name__
        raise ValueError(f"spec_json is not a {SPEC_FORMAT!r} spec (format: {found!r})")
    name = spec["name"]
    grouped: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "layers" or not parts[1].isdigit():
            raise ValueError(f"tensors has unexpected key {key!r} for model {name!r}")
        grouped.setdefault(int(parts[1]), {})[parts[2]] = value.detach().to(torch.float32)
    layers = []
    for k, node in enumerate(spec["layers"]):
        try:
            layers.append(layer_builder(node["kind"], node["attrs"], grouped.pop(k, {})))
        except NotImplementedError as err:
            raise NotImplementedError(f"model {name!r}, layer {k}: {err}") from None
        except KeyError as err:
            raise ValueError(f"model {name!r}, layer {k} ({node['kind']}): missing tensor {err}") from None
    module = TFLiteGraph(spec, layers)
    expected = set(module.state_dict())
    if expected != set(tensors):
        raise ValueError(f"tensors do not match model {name!r}: missing {sorted(expected - set(tensors))[:5]}, "
                         f"unexpected {sorted(set(tensors) - expected)[:5]}")
    return module.eval()
