"""Reader and converter contract on small synthetic graph models written in tmp_path (always run)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.models.tfjs import build_module, convert_file, read_tfjs


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(*v: int) -> dict:
    return {"list": {"i": [str(x) for x in v]}}


def _write(tmp_path, nodes: list[dict], weights: list[tuple[dict, bytes]], *, shards: int = 1, outputs=("out",)):
    """model.json + ``shards`` shard files holding ``weights`` (manifest entry, raw bytes) in order."""
    blob = b"".join(raw for _, raw in weights)
    cut = [len(blob) * k // shards for k in range(shards + 1)]
    paths = [f"group1-shard{k + 1}of{shards}.bin" for k in range(shards)]
    for k, p in enumerate(paths):
        (tmp_path / p).write_bytes(blob[cut[k] : cut[k + 1]])
    doc = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": paths, "weights": [w for w, _ in weights]}],
        "signature": {"outputs": {o: {"name": o + ":0"} for o in outputs}},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    return path


def _placeholder(name: str, *shape: int) -> dict:
    return {
        "name": name,
        "op": "Placeholder",
        "attr": {"shape": {"shape": {"dim": [{"size": str(s)} for s in shape]}}, "dtype": {"type": "DT_FLOAT"}},
    }


def _const(name: str) -> dict:
    return {"name": name, "op": "Const", "attr": {}}


def _conv_graph(tmp_path, filt: np.ndarray, bias: np.ndarray, filt_entry: dict, filt_raw: bytes, shards: int = 1):
    """x (1, 6, 8, 2) -> _FusedConv2D 3x3 stride 2 SAME + BiasAdd + Relu6 -> Transpose NHWC->NCHW -> out."""
    nodes = [
        _placeholder("x", 1, 6, 8, 2),
        _const("w"),
        _const("b"),
        _const("perm"),
        {
            "name": "conv",
            "op": "_FusedConv2D",
            "input": ["x", "w", "b"],
            "attr": {
                "strides": _ints(1, 2, 2, 1),
                "padding": _s("SAME"),
                "data_format": _s("NHWC"),
                "dilations": _ints(1, 1, 1, 1),
                "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu6")["s"]]}},
            },
        },
        {"name": "out", "op": "Transpose", "input": ["conv", "perm"]},
    ]
    weights = [
        (filt_entry, filt_raw),
        ({"name": "b", "shape": [3], "dtype": "float32"}, bias.astype("<f4").tobytes()),
        ({"name": "perm", "shape": [4], "dtype": "int32"}, np.array([0, 3, 1, 2], "<i4").tobytes()),
    ]
    return _write(tmp_path, nodes, weights, shards=shards)


def _reference(x_nhwc: np.ndarray, filt: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """TF 'SAME' stride 2 on 6x8: out 3x4, the one pad row/column goes bottom/right; NCHW out."""
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)
    w = torch.from_numpy(filt).permute(3, 2, 0, 1)
    y = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, torch.from_numpy(bias), stride=2)
    return y.clamp(0, 6).numpy()


def test_uint8_weights_are_dequantised_and_the_graph_runs(tmp_path):
    rng = np.random.default_rng(0)
    q = rng.integers(0, 256, size=(3, 3, 2, 3), dtype=np.uint8)
    scale, lo = 0.01, -1.2
    filt = q.astype(np.float32) * np.float32(scale) + np.float32(lo)
    bias = rng.normal(size=3).astype(np.float32)
    entry = {
        "name": "w",
        "shape": [3, 3, 2, 3],
        "dtype": "float32",
        "quantization": {"dtype": "uint8", "scale": scale, "min": lo},
    }
    path = _conv_graph(tmp_path, filt, bias, entry, q.tobytes(), shards=2)
    model = read_tfjs(path)
    np.testing.assert_array_equal(model.weights["w"], filt)
    assert model.weights["perm"].dtype == np.int32
    module = build_module(*convert_file(path))
    x = rng.normal(size=(1, 6, 8, 2)).astype(np.float32) * 3
    (y,) = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert y.shape == (1, 3, 3, 4)
    np.testing.assert_allclose(y.detach().numpy(), _reference(x, filt, bias), rtol=1e-5, atol=1e-5)


def test_float16_and_uint16_weights_are_dequantised(tmp_path):
    rng = np.random.default_rng(1)
    filt = rng.normal(size=(3, 3, 2, 3)).astype(np.float16)
    entry = {"name": "w", "shape": [3, 3, 2, 3], "dtype": "float32", "quantization": {"dtype": "float16"}}
    path = _conv_graph(tmp_path, filt, np.zeros(3, np.float32), entry, filt.astype("<f2").tobytes())
    w = read_tfjs(path).weights["w"]
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, filt.astype(np.float32))
    q = np.array([0, 1, 65535] * 18, dtype=np.uint16)
    entry = {
        "name": "w",
        "shape": [3, 3, 2, 3],
        "dtype": "float32",
        "quantization": {"dtype": "uint16", "scale": 0.5, "min": -2.0},
    }
    path = _conv_graph(tmp_path, filt, np.zeros(3, np.float32), entry, q.astype("<u2").tobytes())
    np.testing.assert_array_equal(read_tfjs(path).weights["w"].reshape(-1)[:3], [-2.0, -1.5, 32765.5])


def _plain(tmp_path, **kw):
    filt = np.ones((3, 3, 2, 3), np.float32)
    entry = {"name": "w", "shape": [3, 3, 2, 3], "dtype": "float32"}
    return _conv_graph(tmp_path, filt, np.zeros(3, np.float32), entry, filt.tobytes(), **kw)


def test_missing_shard_names_the_file(tmp_path):
    path = _plain(tmp_path, shards=2)
    (tmp_path / "group1-shard2of2.bin").unlink()
    with pytest.raises(FileNotFoundError, match="group1-shard2of2.bin"):
        read_tfjs(path)


def test_shard_size_mismatch_is_reported(tmp_path):
    path = _plain(tmp_path)
    shard = tmp_path / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes() + b"\0\0\0\0")
    with pytest.raises(ValueError, match="describes 244 bytes but its shards hold 248"):
        read_tfjs(path)
    shard.write_bytes(shard.read_bytes()[:220])
    with pytest.raises(ValueError, match="weight 'b'"):
        read_tfjs(path)


def test_unknown_dtypes_name_the_weight(tmp_path):
    path = _plain(tmp_path)
    doc = json.loads(path.read_text())
    doc["weightsManifest"][0]["weights"][0]["quantization"] = {"dtype": "int4", "scale": 1.0, "min": 0.0}
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="weight 'w'.*quantization dtype 'int4'"):
        read_tfjs(path)
    doc["weightsManifest"][0]["weights"][0] = {"name": "w", "shape": [3, 3, 2, 3], "dtype": "complex64"}
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="weight 'w'.*dtype 'complex64'"):
        read_tfjs(path)


def test_unknown_op_names_the_op_and_the_node(tmp_path):
    path = _plain(tmp_path)
    doc = json.loads(path.read_text())
    doc["modelTopology"]["node"][-1] = {"name": "odd_node", "op": "Erfinv", "input": ["conv"]}
    path.write_text(json.dumps(doc))
    with pytest.raises(NotImplementedError, match=r"Erfinv \(node 'odd_node'\)"):
        convert_file(path)


def test_not_a_graph_model_is_rejected(tmp_path):
    (tmp_path / "layers.json").write_text(
        json.dumps({"modelTopology": {"class_name": "Sequential"}, "weightsManifest": []})
    )
    with pytest.raises(ValueError, match="no GraphDef 'node' list"):
        read_tfjs(tmp_path / "layers.json")
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        read_tfjs(tmp_path / "nothing.json")


def test_decoding_ops_run_in_the_graph_layout(tmp_path):
    """x (1, 4, 4, 2) -> Reshape (1, 32) -> ArgMax -> FloorDiv 8 -> Pack with a 0 batch index -> GatherNd on
    x[..., 0] rows; checks the layout switch (NCHW module input, NHWC graph semantics) against NumPy."""
    nodes = [
        _placeholder("x", 1, 4, 4, 2),
        _const("shape"),
        _const("axis"),
        _const("eight"),
        _const("zero"),
        {"name": "flat", "op": "Reshape", "input": ["x", "shape"]},
        {"name": "best", "op": "ArgMax", "input": ["flat", "axis"]},
        {"name": "row", "op": "FloorDiv", "input": ["best", "eight"]},
        {"name": "idx", "op": "Pack", "input": ["zero", "row"], "attr": {"axis": {"i": "1"}}},
        {"name": "out", "op": "GatherNd", "input": ["x", "idx"]},
    ]
    i32 = lambda name, v: ({"name": name, "shape": list(np.shape(v)), "dtype": "int32"}, np.asarray(v, "<i4").tobytes())
    weights = [i32("shape", [1, 32]), i32("axis", 1), i32("eight", [8]), i32("zero", [0])]
    path = _write(tmp_path, nodes, weights)
    module = build_module(*convert_file(path))
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 2)).astype(np.float32)
    (y,) = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    row = int(np.argmax(x.reshape(1, 32), axis=1)[0]) // 8
    np.testing.assert_array_equal(y.numpy(), x[0, row][None])
    with pytest.raises(ValueError, match="batch 1 only"):
        module(torch.zeros(2, 2, 4, 4))
