"""Test tool: real detector weights from the BN-folded ONNX exports in ``../shared/weights`` as an official-layout
state dict, so that tests load them the way users load the official checkpoints (``weights=PATH``).

An export folds each BatchNorm into the convolution before it (weight ``w * k``, bias ``beta - mean * k``). The
state dict built here undoes nothing: each conv gets the folded weight, and its BatchNorm adds the folded bias
(weight 1, bias = folded bias, running mean 0, running var ``1 - eps``, so that ``1 / sqrt(var + eps) = 1``).
Convolutions are matched by order: the ONNX graph's Conv nodes in graph order against the model's ``Conv2d``
modules in the order a forward pass runs them, every shape checked. Not a way to load weights for users: posekit
loads official checkpoints only (:func:`posekit.models.detector_zoo.load_detector_weights`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def conv_order(model: torch.nn.Module, size: int) -> list[str]:
    """Names of ``model``'s Conv2d modules in the order a forward pass on a (1, 3, size, size) input runs them."""
    order: list[str] = []
    hooks = [mod.register_forward_hook(lambda *_, name=name: order.append(name))
             for name, mod in model.named_modules() if isinstance(mod, torch.nn.Conv2d)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    return order


def onnx_convs(path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(node name, weight, bias) of each Conv node of the ONNX graph at ``path``, in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    return [(n.name, inits[n.input[1]], inits[n.input[2]]) for n in graph.node if n.op_type == "Conv"]


def state_dict_from_onnx(model: torch.nn.Module, path: str | Path, *, size: int) -> dict[str, torch.Tensor]:
    """The state dict (``model``'s keys, official layout) holding the BN-folded weights of the export at ``path``."""
    convs = onnx_convs(path)
    order = conv_order(model, size)
    assert len(order) == len(convs), (len(order), len(convs))
    modules = dict(model.named_modules())
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for name, (node, w, b) in zip(order, convs):
        assert tuple(modules[name].weight.shape) == w.shape, (name, node, w.shape)
        sd[f"{name}.weight"] = torch.from_numpy(w.copy())
        bn_name = name.rsplit(".", 1)[0] + ".bn"
        bn = modules.get(bn_name)
        if isinstance(bn, torch.nn.BatchNorm2d):  # conv without bias, then its batch norm adds the folded bias
            n = len(b)
            sd.update({f"{bn_name}.weight": torch.ones(n), f"{bn_name}.bias": torch.from_numpy(b.copy()),
                       f"{bn_name}.running_mean": torch.zeros(n),
                       f"{bn_name}.running_var": torch.full((n,), 1.0 - bn.eps, dtype=torch.float64).float()})
        else:  # the prediction convs have biases
            sd[f"{name}.bias"] = torch.from_numpy(b.copy())
    return sd


def save_official(model: torch.nn.Module, path: str | Path, onnx_path: str | Path, *, size: int,
                  container: str) -> Path:
    """Write the real weights of ``onnx_path`` as an official checkpoint file at ``path``: ``{container: state
    dict}`` plus a ``meta`` entry as OpenMMLab files have (``container``: ``"state_dict"`` or YOLOX's ``"model"``)."""
    sd = state_dict_from_onnx(model, onnx_path, size=size)
    torch.save({container: sd, "meta": {"source": Path(onnx_path).name}}, path)
    return Path(path)
