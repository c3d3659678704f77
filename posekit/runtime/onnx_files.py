"""ONNX files of posekit's networks, by public model name and cached (also used by the ONNX Runtime back end).

* :func:`cached_export` exports a module once (dynamic batch) as ``<folder>/<name>-<fingerprint>-opset<opset>.onnx``
  (default folder ``<cache>/onnx``, i.e. ``$POSEKIT_HOME/onnx``; see :func:`posekit.models.weights.cache_dir`); the
  fingerprint (:func:`fingerprint`) hashes the module's graph description (TFLite spec) and weights, so a changed
  conversion or checkpoint gives a new file instead of a stale one.
* :func:`export_model` writes the ONNX file(s) of a public model name (``posekit export``): MediaPipe models give
  two files, ``<out>/<name>_detector.onnx`` and ``<out>/<name>_landmark.onnx``; top-down models one,
  ``<out>/<name>.onnx``, with their official weights (downloaded on first use), a given checkpoint, or random
  weights only when asked for (``random_weights=True``). :func:`mediapipe_onnx_files` gives a MediaPipe model's two
  cached files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch

from posekit.codecs import SimCC
from posekit.models import mediapipe_wheel as mpw
from posekit.models.mediapipe_wheel import load_mediapipe_module
from posekit.models.npm_models import NpmAsset, load_npm_module, tflite_asset
from posekit.models.registry import create_model, get_entry
from posekit.models.weights import cache_dir, fetch_pretrained
from posekit.runtime.onnx_export import export_onnx
from posekit.runtime.runner import InputSpec

__all__ = ["fingerprint", "cached_export", "MEDIAPIPE_ASSETS", "mediapipe_onnx_files", "topdown_output_names",
           "topdown_metadata", "export_model"]


# ------------------------------------------------------------------------------------------- cached, by name


def fingerprint(module: torch.nn.Module) -> str:
    """First 12 hex digits of the sha256 of a module's graph description (a TFLite graph's ``spec`` dict) and
    weights (its ``state_dict``)."""
    digest = hashlib.sha256()
    spec = getattr(module, "spec", None)
    if isinstance(spec, dict):
        digest.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def _default_folder(folder: str | os.PathLike[str] | None) -> Path:
    if folder is not None:
        return Path(folder)
    return cache_dir() / "onnx"


def cached_export(module: torch.nn.Module, *, name: str | None, input_spec: InputSpec,
                  folder: str | os.PathLike[str] | None = None, opset: int = 17,
                  output_names: Sequence[str] | None = None, metadata: Mapping[str, str] | None = None,
                  progress: Callable[[str], None] | None = None) -> Path:
    """``<folder>/<name>-<fingerprint>-opset<opset>.onnx`` for ``module``, exported (dynamic batch, verified by
    :func:`export_onnx`) unless the file exists; files only ever appear complete and verified, so an existing one is
    reused as it is.

    ``name`` defaults to the module's ``name`` attribute (TFLite graphs carry theirs) or its class name;
    ``input_spec`` gives the traced input shape (batch 1): an open batch (``None``) exports a dynamic batch, a fixed
    one (e.g. ``(1, 3, H, W)`` for graphs that decode in their own layout, batch 1 only) exports that batch as
    ``<name>-<fingerprint>-batch<B>-opset<opset>.onnx``; ``folder`` defaults to ``<cache>/onnx``; the file's metadata
    is ``metadata`` plus ``posekit.fingerprint``.
    """
    own = getattr(module, "name", None)
    stem = name or (own if isinstance(own, str) and own else type(module).__name__.lower())
    digest = fingerprint(module)
    batch = input_spec.shape[0]
    fixed = "" if batch is None else f"-batch{batch}"
    path = _default_folder(folder) / f"{stem}-{digest}{fixed}-opset{opset}.onnx"
    if not path.is_file():
        shape = tuple(1 if d is None else d for d in input_spec.shape)
        if input_spec.layout != "NCHW" or None in shape[1:]:
            raise ValueError(f"cached_export traces an NCHW input of fixed size, got {input_spec.describe()}")
        meta = {**(metadata or {}), "posekit.fingerprint": digest}
        export_onnx(module.eval(), path, input_shape=shape, dynamic_batch=batch is None, opset=opset,
                    input_name=input_spec.name, output_names=output_names, metadata=meta, progress=progress)
    return path


def _mediapipe_assets() -> Mapping[str, tuple[Any, Any]]:
    return MappingProxyType({
        "blazepose_full": (mpw.POSE_DETECTION, mpw.POSE_LANDMARK_FULL),
        "blazepose_heavy": (mpw.POSE_DETECTION, tflite_asset("pose_landmark_heavy")),
        "blazepose_lite": (mpw.POSE_DETECTION, tflite_asset("pose_landmark_lite")),
        "mediapipe_hand_full": (mpw.PALM_DETECTION_FULL, mpw.HAND_LANDMARK_FULL),
        "mediapipe_hand_lite": (mpw.PALM_DETECTION_LITE, mpw.HAND_LANDMARK_LITE),
        "mediapipe_face_mesh": (mpw.FACE_DETECTION_SHORT_RANGE, mpw.FACE_LANDMARK),
    })


#: The MediaPipe entries of the public model registry and their ``(detector, landmark)`` networks
#: (:class:`~posekit.models.mediapipe_wheel.TFLiteAsset` s of the wheel, :class:`~posekit.models.npm_models.NpmAsset` s
#: of ``@mediapipe/pose``).
MEDIAPIPE_ASSETS: Mapping[str, tuple[Any, Any]] = _mediapipe_assets()


def _mediapipe_assets_of(name: str) -> tuple[Any, Any]:
    get_entry(name)  # unknown names: KeyError with the closest known names
    if name not in MEDIAPIPE_ASSETS:
        raise ValueError(f"{name!r} is not a MediaPipe model; MediaPipe models: {', '.join(MEDIAPIPE_ASSETS)}")
    return MEDIAPIPE_ASSETS[name]


def _load(asset: Any) -> torch.nn.Module:
    return load_npm_module(asset) if isinstance(asset, NpmAsset) else load_mediapipe_module(asset)


def _tflite_input_spec(module: torch.nn.Module) -> InputSpec:
    """The NCHW spec of a TFLite graph's NHWC input."""
    _, h, w, c = module.input_shapes[0]  # type: ignore[attr-defined]
    return InputSpec.image(int(c), int(h), int(w))


def _tflite_metadata(model: str, role: str, asset: Any) -> dict[str, str]:
    return {"posekit.model": model, "posekit.network": role, "posekit.source": asset.filename}


def mediapipe_onnx_files(name: str, *, folder: str | os.PathLike[str] | None = None, opset: int = 17,
                         progress: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """``(detector, landmark)`` ONNX files (dynamic batch) of a MediaPipe model, exported on first use by
    :func:`cached_export` into ``folder`` (default ``<cache>/onnx``) as ``<network>-<fingerprint>-opset<opset>.onnx``:
    the files the pipelines built with ``backend="onnxruntime"`` run."""
    paths = []
    for role, asset in zip(("detector", "landmark"), _mediapipe_assets_of(name)):
        module = _load(asset)
        paths.append(cached_export(module, name=asset.name, input_spec=_tflite_input_spec(module), folder=folder,
                                   opset=opset, metadata=_tflite_metadata(name, role, asset), progress=progress))
    return paths[0], paths[1]


def topdown_output_names(spec: Any) -> tuple[str, ...]:
    """ONNX output names of a top-down network with the :class:`~posekit.models.topdown.TopdownSpec` ``spec``."""
    return ("simcc_x", "simcc_y") if isinstance(spec.codec, SimCC) else ("heatmaps",)


def topdown_metadata(name: str, spec: Any, weights: Any = None) -> dict[str, str]:
    """ONNX metadata of a top-down network: model name, weights, input size, normalisation."""
    width, height = spec.input_size
    return {"posekit.model": name, "posekit.network": "topdown", "posekit.weights": str(weights or "random"),
            "posekit.input_size": f"{width}x{height}", "posekit.mean": json.dumps(list(spec.mean)),
            "posekit.std": json.dumps(list(spec.std))}


def export_model(name: str, out: str | os.PathLike[str], *, dynamic_batch: bool = False, opset: int = 17,
                 weights: str | os.PathLike[str] | None = None, random_weights: bool = False,
                 progress: Callable[[str], None] | None = None,
                 model: torch.nn.Module | None = None) -> list[Path]:
    """Export the network(s) of the public model ``name`` (see :func:`posekit.list_models`), verified in ONNX
    Runtime against PyTorch (:func:`export_onnx`).

    Args:
        name: a public model name.
        out: output folder (created). For a top-down model also a file path ending in ``.onnx``.
        dynamic_batch: symbolic batch axis (needed for flip test or batches of several crops).
        opset: ONNX opset version.
        weights: top-down models: a checkpoint file to load. Without it the model's official checkpoint is used:
            downloaded (verified, cached) on first use; when it cannot be downloaded
            :class:`~posekit.models.weights.WeightsError` (a RuntimeError) names the URL, the hash and
            ``--weights PATH``. Not accepted for MediaPipe models (their weights come from the MediaPipe wheel).
        random_weights: top-down models: export a randomly initialised network instead (enough to test a
            deployment, useless for inference); must be asked for explicitly and excludes ``weights``.
        progress: called with one line per exported file.
        model: top-down models: the network of ``name`` already built (with its weights loaded); exported as is
            (``weights`` then only labels the file's metadata).

    Returns:
        The written paths: MediaPipe ``[<out>/<name>_detector.onnx, <out>/<name>_landmark.onnx]``, top-down
        ``[<out>/<name>.onnx]`` (or ``[out]``). Unknown names raise ``KeyError`` (with the closest names). The
        ONNX metadata ``posekit.weights`` says which weights the file holds (path, official URL or ``random``).
    """
    entry = get_entry(name)
    out = Path(out)
    if weights is not None and random_weights:
        raise ValueError(f"{name}: give either weights or random_weights=True (--weights or --random-weights), "
                         "not both")
    if name in MEDIAPIPE_ASSETS:
        if weights is not None or random_weights:
            raise ValueError(f"{name} takes its weights from the MediaPipe wheel (heavy/lite: @mediapipe/pose); "
                             "weights and random weights are for top-down models")
        if out.suffix == ".onnx":
            raise ValueError(f"{name} has two networks: out must be a folder, got the file name {str(out)!r}")
        paths = []
        for role, asset in zip(("detector", "landmark"), MEDIAPIPE_ASSETS[name]):
            module = _load(asset)
            meta = {**_tflite_metadata(name, role, asset), "posekit.fingerprint": fingerprint(module)}
            shape = tuple(1 if d is None else d for d in _tflite_input_spec(module).shape)
            paths.append(export_onnx(module, out / f"{name}_{role}.onnx", input_shape=shape,
                                     dynamic_batch=dynamic_batch, opset=opset, metadata=meta, progress=progress))
        return paths
    if entry.task == "lift3d":
        raise ValueError(f"{name} is a 3D lifter; ONNX export covers the 2D image models")
    label: Any = weights if weights is not None else "random" if random_weights else "given model"
    if model is None:
        if weights is None and not random_weights:
            weights, label = _official_weights(name, entry)
        model = create_model(name, weights=weights) if weights is not None else create_model(name)
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError(f"{name}: the network has no input specification (model.spec); cannot export it")
    width, height = spec.input_size
    path = out if out.suffix == ".onnx" else out / f"{name}.onnx"
    return [export_onnx(model, path, input_shape=(1, 3, int(height), int(width)), dynamic_batch=dynamic_batch,
                        opset=opset, output_names=topdown_output_names(spec),
                        metadata=topdown_metadata(name, spec, label), progress=progress)]


def _official_weights(name: str, entry: Any) -> tuple[Path, str]:
    """``(cached file, URL)`` of ``name``'s official checkpoint, downloaded and verified on first use."""
    spec = entry.weights
    if spec is None:
        raise ValueError(f"{name} has no official checkpoint: pass weights=PATH (--weights PATH) or "
                         "random_weights=True (--random-weights)")
    alternative = ", or --random-weights (random_weights=True) to export random initialisation for deployment tests"
    return fetch_pretrained(spec, what=name, alternative=alternative), spec.url
