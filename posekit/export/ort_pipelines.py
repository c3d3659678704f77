"""The zoo's models in ONNX: export by public name, and posekit pipelines running on ONNX Runtime.

* :func:`export_model` writes the ONNX file(s) of a model name (``posekit export``): MediaPipe models give two
  files, ``<out>/<name>_detector.onnx`` and ``<out>/<name>_landmark.onnx``; top-down models one,
  ``<out>/<name>.onnx``.
* :func:`mediapipe_onnx` / :func:`blazepose_full_onnx` build the MediaPipe landmark pipelines with both networks
  replaced by :class:`~posekit.export.ort_backend.OrtModule` s. Their ONNX files are exported on first use
  (dynamic batch) into ``<cache>/onnx/`` (``$POSEKIT_HOME/onnx``; see :func:`posekit.models._weights.cache_dir`),
  named by the network and a fingerprint of its converted graph and weights, so a changed conversion gives a new
  file instead of a stale one.
* :func:`topdown_onnx_estimator`: a :class:`~posekit.pipelines.topdown.TopDownEstimator` on an exported top-down
  file (through :class:`OrtTorchModule`, since that estimator takes ``nn.Module`` s).

Only the networks run in ONNX Runtime; pre- and post-processing are posekit's (NumPy / OpenCV; the pipelines
themselves still import torch).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch

from posekit.detect import mediapipe as mp_detect
from posekit.detect.tiled import TiledDetector, wants_candidates
from posekit.export.onnx import export_onnx
from posekit.export.ort_backend import OrtModule
from posekit.models import _mediapipe_wheel as mpw

__all__ = [
    "MediaPipeNetworks", "MEDIAPIPE_NETWORKS", "export_model", "mediapipe_onnx_files", "mediapipe_onnx",
    "blazepose_full_onnx", "OrtTorchModule", "topdown_onnx_estimator", "onnxruntime_estimator",
]


@dataclass(frozen=True)
class MediaPipeNetworks:
    """The two networks of a MediaPipe pipeline.

    Attributes:
        detector, landmark: the pinned MediaPipe networks (:class:`~posekit.models._mediapipe_wheel.TFLiteAsset`,
            loaded by :func:`~posekit.models._mediapipe_wheel.load_mediapipe_module`; ``asset.name`` names the
            exported files).
        detector_config: the detector's :class:`~posekit.detect.mediapipe.MediaPipeDetectorConfig`.
    """

    detector: mpw.TFLiteAsset
    landmark: mpw.TFLiteAsset
    detector_config: mp_detect.MediaPipeDetectorConfig


#: The MediaPipe entries of the public model registry and their networks.
MEDIAPIPE_NETWORKS = MappingProxyType({
    "blazepose_full": MediaPipeNetworks(mpw.POSE_DETECTION, mpw.POSE_LANDMARK_FULL, mp_detect.POSE_DETECTION_CONFIG),
    "mediapipe_hand_full": MediaPipeNetworks(mpw.PALM_DETECTION_FULL, mpw.HAND_LANDMARK_FULL,
                                             mp_detect.PALM_DETECTION_FULL_CONFIG),
    "mediapipe_hand_lite": MediaPipeNetworks(mpw.PALM_DETECTION_LITE, mpw.HAND_LANDMARK_LITE,
                                             mp_detect.PALM_DETECTION_LITE_CONFIG),
    "mediapipe_face_mesh": MediaPipeNetworks(mpw.FACE_DETECTION_SHORT_RANGE, mpw.FACE_LANDMARK,
                                             mp_detect.FACE_DETECTION_SHORT_RANGE_CONFIG),
})


def _mediapipe_networks(name: str) -> MediaPipeNetworks:
    from posekit.models._registry import get_entry

    get_entry(name)  # unknown names: KeyError with the closest known names
    if name not in MEDIAPIPE_NETWORKS:
        raise ValueError(f"{name!r} is not a MediaPipe model; MediaPipe models: {', '.join(MEDIAPIPE_NETWORKS)}")
    return MEDIAPIPE_NETWORKS[name]


def _nchw_shape(module: torch.nn.Module) -> tuple[int, int, int, int]:
    """(1, C, H, W) from a TFLite graph's NHWC input shape."""
    b, h, w, c = module.input_shapes[0]  # type: ignore[attr-defined]
    return (1, int(c), int(h), int(w))


def _fingerprint(module: torch.nn.Module) -> str:
    """First 12 hex digits of the sha256 of a module's graph description (TFLite spec) and weights."""
    digest = hashlib.sha256()
    spec = getattr(module, "spec", None)
    if isinstance(spec, dict):
        digest.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def _export_tflite(module: torch.nn.Module, path: Path, *, model: str, role: str, tflite: str, dynamic_batch: bool,
                   opset: int, progress: Callable[[str], None] | None) -> Path:
    meta = {"posekit.model": model, "posekit.network": role, "posekit.source": tflite,
            "posekit.fingerprint": _fingerprint(module)}
    return export_onnx(module, path, input_shape=_nchw_shape(module), dynamic_batch=dynamic_batch, opset=opset,
                       metadata=meta, progress=progress)


def mediapipe_onnx_files(name: str, *, folder: str | os.PathLike[str] | None = None, opset: int = 17,
                         progress: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """``(detector, landmark)`` ONNX files (dynamic batch) of a MediaPipe model, exported on first use.

    Files live in ``folder`` (default ``<cache>/onnx``) as ``<network>-<fingerprint>-opset<opset>.onnx``; an
    existing file is reused (files only ever appear complete and verified, see
    :func:`~posekit.export.onnx.export_onnx`).
    """
    nets = _mediapipe_networks(name)
    if folder is None:
        from posekit.models._weights import cache_dir

        folder = cache_dir() / "onnx"
    folder = Path(folder)
    paths = []
    for role, asset in (("detector", nets.detector), ("landmark", nets.landmark)):
        module = mpw.load_mediapipe_module(asset)
        path = folder / f"{asset.name}-{_fingerprint(module)}-opset{opset}.onnx"
        if not path.is_file():
            _export_tflite(module, path, model=name, role=role, tflite=asset.filename, dynamic_batch=True,
                           opset=opset, progress=progress)
        paths.append(path)
    return paths[0], paths[1]


def export_model(name: str, out: str | os.PathLike[str], *, dynamic_batch: bool = False, opset: int = 17,
                 weights: str | os.PathLike[str] | None = None, progress: Callable[[str], None] | None = None,
                 model: torch.nn.Module | None = None) -> list[Path]:
    """Export the network(s) of the public model ``name`` (see :func:`posekit.list_models`), verified in ONNX
    Runtime against PyTorch (:func:`~posekit.export.onnx.export_onnx`).

    Args:
        name: a public model name.
        out: output folder (created). For a top-down model also a file path ending in ``.onnx``.
        dynamic_batch: symbolic batch axis (needed for flip test or batches of several crops).
        opset: ONNX opset version.
        weights: top-down models: an official checkpoint to load (else random initialisation, which is enough to
            test deployment); not accepted for MediaPipe models (their weights come from the MediaPipe wheel).
        progress: called with one line per exported file.
        model: top-down models: the network of ``name`` already built (with ``weights`` loaded); exported as is.

    Returns:
        The written paths: MediaPipe ``[<out>/<name>_detector.onnx, <out>/<name>_landmark.onnx]``, top-down
        ``[<out>/<name>.onnx]`` (or ``[out]``). Unknown names raise ``KeyError`` (with the closest names).
    """
    from posekit.models._registry import create_model, get_entry

    entry = get_entry(name)
    out = Path(out)
    if name in MEDIAPIPE_NETWORKS:
        if weights is not None:
            raise ValueError(f"{name} takes its weights from the MediaPipe wheel; weights= is for top-down models")
        if out.suffix == ".onnx":
            raise ValueError(f"{name} has two networks: out must be a folder, got the file name {str(out)!r}")
        nets = MEDIAPIPE_NETWORKS[name]
        paths = []
        for role, asset in (("detector", nets.detector), ("landmark", nets.landmark)):
            paths.append(_export_tflite(mpw.load_mediapipe_module(asset), out / f"{name}_{role}.onnx", model=name,
                                        role=role, tflite=asset.filename, dynamic_batch=dynamic_batch, opset=opset,
                                        progress=progress))
        return paths
    if entry.task == "lift3d":
        raise ValueError(f"{name} is a 3D lifter; ONNX export covers the 2D image models")
    if model is None:
        model = create_model(name, weights=weights) if weights is not None else create_model(name)
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError(f"{name}: the network has no input specification (model.spec); cannot export it")
    from posekit.codecs import SimCC

    width, height = spec.codec.input_size
    names = ("simcc_x", "simcc_y") if isinstance(spec.codec, SimCC) else ("heatmaps",)
    path = out if out.suffix == ".onnx" else out / f"{name}.onnx"
    meta = {"posekit.model": name, "posekit.network": "topdown", "posekit.weights": str(weights or "random"),
            "posekit.input_size": f"{width}x{height}", "posekit.mean": json.dumps(list(spec.mean)),
            "posekit.std": json.dumps(list(spec.std))}
    return [export_onnx(model, path, input_shape=(1, 3, int(height), int(width)), dynamic_batch=dynamic_batch,
                        opset=opset, output_names=names, metadata=meta, progress=progress)]


def mediapipe_onnx(name: str, *, folder: str | os.PathLike[str] | None = None, opset: int = 17,
                   intra_op_num_threads: int | None = None, providers: Any = None,
                   min_detection_score: float | None = None, tiles: int = 1, **kwargs: Any) -> Any:
    """A MediaPipe pipeline (``blazepose_full``, ``mediapipe_hand_full``/``_lite``, ``mediapipe_face_mesh``)
    whose detector and landmark networks run in ONNX Runtime (files from :func:`mediapipe_onnx_files`), each an
    :class:`OrtModule` inside an :class:`OrtTorchModule` (the pipelines handle their networks as torch modules).

    ``intra_op_num_threads`` / ``providers`` go to both :class:`OrtModule` s; ``tiles`` (BlazePose only) and
    ``min_detection_score`` as in :func:`posekit.pipelines.mediapipe_pose.blazepose_full`; ``kwargs`` to the
    estimator class.
    """
    nets = _mediapipe_networks(name)
    if tiles != 1 and name != "blazepose_full":
        raise ValueError(f"tiles is a BlazePose option, got tiles={tiles} for {name}")
    det_path, lm_path = mediapipe_onnx_files(name, folder=folder, opset=opset)
    ort = {"intra_op_num_threads": intra_op_num_threads, "providers": providers, "shared_threads": True}
    # the pipelines prepare their networks as torch modules (eval, device, memory format): give them the adapter
    landmark = OrtTorchModule(OrtModule(lm_path, **ort))
    trusted = nets.detector_config.min_score
    candidates = name == "blazepose_full" and wants_candidates(tiles, min_detection_score, trusted)
    box = "body" if name == "blazepose_full" and not candidates else "model"
    detector: Any = mp_detect.MediaPipeDetector(OrtTorchModule(OrtModule(det_path, **ort)), nets.detector_config,
                                                min_score=min_detection_score, box=box)
    if name == "blazepose_full":
        from posekit.pipelines.mediapipe_pose import blazepose_full

        if candidates:
            detector = TiledDetector(detector, grid=tiles, trusted_score=trusted)
        return blazepose_full(detector=detector, landmark_model=landmark, **kwargs)
    if name == "mediapipe_face_mesh":
        from posekit.pipelines.mediapipe_face import mediapipe_face_mesh

        return mediapipe_face_mesh(detector=detector, landmark_model=landmark, **kwargs)
    from posekit.pipelines.mediapipe_hand import mediapipe_hand

    return mediapipe_hand(variant=name.rsplit("_", 1)[1], detector=detector, landmark_model=landmark, **kwargs)


def blazepose_full_onnx(**kwargs: Any) -> Any:
    """:func:`posekit.pipelines.mediapipe_pose.blazepose_full` on ONNX Runtime: :func:`mediapipe_onnx` with
    ``"blazepose_full"`` (keywords: ``folder``, ``opset``, ``intra_op_num_threads``, ``providers``,
    ``min_detection_score``, ``tiles``, and the :class:`~posekit.pipelines.mediapipe_pose.BlazePoseEstimator` options)."""
    return mediapipe_onnx("blazepose_full", **kwargs)


class OrtTorchModule(torch.nn.Module):
    """An :class:`OrtModule` inside an ``nn.Module`` (no parameters, CPU), for code that requires a torch module
    (e.g. :class:`~posekit.pipelines.topdown.TopDownEstimator`, :class:`~posekit.detect.mediapipe.MediaPipeDetector`).
    ``forward(x)`` returns what the ONNX file's module returned, as CPU tensors (any memory format in; moving it
    to another device or memory format is a no-op, as it has no tensors); ``spec`` is attached when given."""

    def __init__(self, ort_module: OrtModule, *, spec: Any = None) -> None:
        super().__init__()
        if not isinstance(ort_module, OrtModule):
            raise TypeError(f"ort_module must be an OrtModule, got {type(ort_module).__name__}")
        self.ort = ort_module
        if spec is not None:
            self.spec = spec

    def forward(self, x: torch.Tensor) -> Any:
        return self.ort(x)


def topdown_onnx_estimator(path: str | os.PathLike[str], spec: Any, detector: Any = None, *,
                           intra_op_num_threads: int | None = None, providers: Any = None,
                           shared_threads: bool = False, **options: Any) -> Any:
    """:class:`~posekit.pipelines.topdown.TopDownEstimator` whose network is the ONNX file ``path`` (a top-down
    model exported with a dynamic batch when flip test or several persons are used).

    ``spec`` is the model's :class:`~posekit.models._families.TopdownSpec` (``create_model(name).spec``);
    ``intra_op_num_threads``, ``providers`` and ``shared_threads`` go to :class:`OrtModule`; ``detector`` and
    ``options`` to the estimator."""
    from posekit.pipelines.topdown import TopDownEstimator

    ort = OrtModule(path, intra_op_num_threads=intra_op_num_threads, providers=providers,
                    shared_threads=shared_threads)
    return TopDownEstimator(OrtTorchModule(ort, spec=spec), detector, spec=spec, **options)


def onnxruntime_estimator(name: str, *, weights: str | os.PathLike[str] | None = None, device: str = "cpu",
                          folder: str | os.PathLike[str] | None = None, opset: int = 17,
                          intra_op_num_threads: int | None = None, providers: Any = None,
                          detector: Any = None, **options: Any) -> Any:
    """The estimator of the public model ``name`` with its networks on ONNX Runtime
    (``PoseEstimator.from_pretrained(name, backend="onnxruntime")``).

    MediaPipe models: :func:`mediapipe_onnx` (files exported on first use into ``<cache>/onnx``). Top-down models:
    the network with ``weights`` (a local checkpoint; default the official one, downloaded and verified) exported
    once with a dynamic batch to ``<folder or cache>/onnx/<name>-<fingerprint>-opset<opset>.onnx`` and run by
    :func:`topdown_onnx_estimator`, with the BlazePose person detector in ONNX Runtime too unless ``detector`` is
    given. ``options`` go to the estimator; ``precision`` other than ``"fp32"`` and ``compile`` are torch options
    and are refused, as is a non-CPU ``device`` (pass ``providers=`` for other ONNX Runtime execution providers).
    """
    from posekit.models._registry import get_entry

    entry = get_entry(name)
    if str(device) != "cpu":
        raise ValueError(f"backend='onnxruntime' runs on ONNX Runtime providers, not torch devices (got "
                         f"device={device!r}); pass providers=['CUDAExecutionProvider', ...] instead")
    for key, neutral in (("precision", "fp32"), ("compile", False), ("channels_last", None)):
        if options.get(key, neutral) != neutral:
            raise ValueError(f"{key}={options[key]!r} is a torch backend option; ONNX Runtime runs the exported "
                             "float32 graph")
        options.pop(key, None)
    ort = {"intra_op_num_threads": intra_op_num_threads, "providers": providers}
    if name in MEDIAPIPE_NETWORKS:
        if weights is not None:
            raise ValueError(f"{name} takes its weights from the MediaPipe wheel; weights= is for top-down models")
        if detector is not None:
            raise ValueError(f"{name}: detector= is not accepted with backend='onnxruntime'")
        return mediapipe_onnx(name, folder=folder, opset=opset, **ort, **options)
    if entry.build_estimator is None or entry.task == "lift3d":
        raise ValueError(f"model {name!r} has no end-to-end image estimator to run on ONNX Runtime")
    model = entry.build_model(weights=weights, pretrained=weights is None)
    if folder is None:
        from posekit.models._weights import cache_dir

        folder = cache_dir() / "onnx"
    path = Path(folder) / f"{name}-{_fingerprint(model)}-opset{opset}.onnx"
    if not path.is_file():
        export_model(name, path, dynamic_batch=True, opset=opset, weights=weights, model=model)
    if detector is None:  # built on first use: caller boxes never need it
        from posekit.pipelines.topdown import _LazyDetector

        def person_detector() -> Any:
            det_path, _ = mediapipe_onnx_files("blazepose_full", folder=folder, opset=opset)
            return mp_detect.MediaPipeDetector(OrtTorchModule(OrtModule(det_path, **ort, shared_threads=True)),
                                               mp_detect.POSE_DETECTION_CONFIG, box="body")

        detector = _LazyDetector(person_detector)
    return topdown_onnx_estimator(path, model.spec, detector, **ort, shared_threads=True, **options)
