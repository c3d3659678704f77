"""Which detector finds the objects a pose model runs on, as data: a task (``ModelEntry.task``) -> a detector name
and the class names it keeps.

* ``body``, ``wholebody``: ``nanodet``, keeping ``person`` (COCO class 0);
* ``hand``: ``rtmdet_nano_hand``, its one class ``hand`` (an official checkpoint, fetched on first use);
* ``animal``: ``nanodet``, keeping :data:`COCO_ANIMALS` (class indices 15-23 of the 80-class list; COCO
  ``category_id`` 17-25).

The animal classes are MMPose 1.3.2's (``apis/inferencers/utils/default_det_models.py``: ``cat_ids`` 15-23 behind
its animal models): the nine COCO mammals, cat to giraffe. COCO's tenth animal, ``bird``, is left out as MMPose does:
AP-10K (whose 17-keypoint skeleton the animal models predict) holds mammals only.

A detector named by the caller (``detector="rtmdet_tiny"``, ``--detector yolox_s``) keeps the task's classes among its
own (:func:`class_ids`): a COCO-80 detector behind an animal model keeps the nine animals, not persons; a detector
that knows none of them (a person detector behind a hand model) is refused with a ``ValueError`` naming the ones that
fit.

With several classes kept, boxes of different classes suppress each other (:class:`MergedClasses`: one NMS over the
kept classes at the detector's own IoU threshold; MMPose's inferencer runs one class-agnostic NMS at IoU 0.3 for
every task, which merges more): one animal
seen as a zebra (0.40) and as a giraffe (0.34) is one box, not two poses. (NanoDet on AP-10K's zebra image
``000000037516.jpg``: four overlapping boxes of four animal classes at IoU 0.86-0.91 with the ground truth, one after
the merge.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np

from posekit.detect import create_detector
from posekit.detect.lazy import LazyDetector
from posekit.detect.nms import nms
from posekit.models.detector_zoo import CHECKPOINTS, COCO_CLASSES
from posekit.models.registry import get_entry, list_models
from posekit.models.weights import WeightsError
from posekit.types import Detections

__all__ = ["COCO_ANIMALS", "TASK_DETECTORS", "MergedClasses", "TaskDetector", "class_ids", "detector_class_names",
           "detector_for_task", "task_detector"]

COCO_ANIMALS: tuple[str, ...] = ("cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
"""The COCO classes behind MMPose's animal models (class indices 15-23 of the 80; COCO ``category_id`` 17-25)."""


@dataclass(frozen=True)
class TaskDetector:
    """The default detector of one task.

    Attributes:
        detector: its registry name (``posekit.list_models(task="detect")``).
        classes: the class names it keeps (each one of the detector's :func:`detector_class_names`).
        objects: the objects in words, for messages (``"persons"``, ``"hands"``, ``"animals"``).
    """

    detector: str
    classes: tuple[str, ...]
    objects: str


TASK_DETECTORS: Mapping[str, TaskDetector] = MappingProxyType({
    "body": TaskDetector("nanodet", ("person",), "persons"),
    "wholebody": TaskDetector("nanodet", ("person",), "persons"),
    "hand": TaskDetector("rtmdet_nano_hand", ("hand",), "hands"),
    "animal": TaskDetector("nanodet", COCO_ANIMALS, "animals"),
})
"""Task -> its default detector (see the module docstring)."""

# The class names of each registered detector, by class id.
_CLASS_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "nanodet": COCO_CLASSES, "mediapipe": ("person",), **{row.name: row.class_names for row in CHECKPOINTS},
})


class MergedClasses:
    """A detector whose boxes of different classes suppress each other: greedy NMS over all its boxes at
    ``iou_threshold`` (default: the detector's own ``iou_threshold``), after its per-class NMS.

    ``detector(image)`` / ``detect_batch(images)`` as the wrapped detector's; the kept detections keep their labels,
    by decreasing score. The wrapped detector is ``self.detector``."""

    def __init__(self, detector: Any, iou_threshold: float | None = None) -> None:
        self.detector = detector
        self.iou_threshold = float(detector.iou_threshold if iou_threshold is None else iou_threshold)

    def _merge(self, dets: Detections) -> Detections:
        return dets[nms(dets.boxes, dets.scores, self.iou_threshold)] if len(dets) > 1 else dets

    def __call__(self, image: np.ndarray) -> Detections:
        return self._merge(self.detector(image))

    def detect_batch(self, images: Any) -> list[Detections]:
        return [self._merge(d) for d in self.detector.detect_batch(images)]


def task_detector(task: str) -> TaskDetector:
    """The default detector of ``task``; ``ValueError`` naming the tasks that run on detector boxes otherwise."""
    if task not in TASK_DETECTORS:
        raise ValueError(f"no default detector for {task!r} models; tasks with one: {', '.join(TASK_DETECTORS)}")
    return TASK_DETECTORS[task]


def detector_class_names(name: str) -> tuple[str, ...]:
    """The class names of detector ``name`` by class id (``KeyError`` for a name that is no registered detector)."""
    if name not in _CLASS_NAMES:
        raise KeyError(f"no detector {name!r}; detectors: {', '.join(_CLASS_NAMES)}")
    return _CLASS_NAMES[name]


def class_ids(detector: str, task: str) -> tuple[int, ...]:
    """The class ids of ``task``'s classes among ``detector``'s, in the detector's id order.

    ``ValueError`` when the detector finds none of them, naming the detectors that do."""
    wanted = task_detector(task)
    names = detector_class_names(detector)
    ids = tuple(i for i, name in enumerate(names) if name in wanted.classes)
    if not ids:
        fits = [d for d in _CLASS_NAMES if set(wanted.classes) & set(_CLASS_NAMES[d])]
        finds = "COCO's 80 classes" if names == COCO_CLASSES else ", ".join(names)
        raise ValueError(f"detector {detector} finds {finds}, no {wanted.objects} ({', '.join(wanted.classes)}); "
                         f"for {task} models use {', '.join(fits)} or pass boxes")
    return ids


def detector_for_task(task: str, name: str | None = None, *, weights: str | os.PathLike[str] | None = None,
                      model: str = "the model", create: Callable[..., Any] = create_detector, **options: Any) -> Any:
    """The detector of a ``task`` model keeping the task's classes: ``name`` (default: the task's) built by
    ``create(name, **options)`` (:func:`posekit.detect.create_detector`) with ``options`` (``device=``, ``backend=``,
    the back end's own options), ``classes=`` (for a detector of several classes) and ``weights=`` (an official
    checkpoint).

    Official-checkpoint detectors are built now when named or given ``weights`` (a missing or wrong file fails here);
    the others, and the task's default without ``weights``, on first use (:class:`LazyDetector`), so caller boxes never
    need them. A default whose official checkpoint cannot be fetched then raises
    :class:`~posekit.models.weights.WeightsError` naming ``model``, the checkpoint, ``boxes=`` and ``detector=``.
    ``ValueError`` when ``name`` finds none of the task's classes (:func:`class_ids`)."""
    default = name is None
    name = task_detector(task).detector if default else name
    get_entry(name)  # unknown names: KeyError with the closest ones
    ids = class_ids(name, task)
    if len(detector_class_names(name)) > 1:  # one-class detectors take no class option (BlazePose's)
        options["classes"] = ids
    official = get_entry(name).weights is not None
    if weights is not None:
        if not official:
            takers = [n for n in list_models(task="detect") if get_entry(n).weights is not None]
            raise ValueError(f"detector {name} fetches its own weights; detector_weights= (--detector-weights) is "
                             f"for the detectors that load an official checkpoint ({', '.join(takers)})")
        options["weights"] = weights
    build: Callable[[], Any] = partial(_build, create, name, len(ids) > 1, options)
    if official and (weights is not None or not default):
        return build()
    return LazyDetector(partial(_explained, build, name, task, model) if official else build)


def _build(create: Callable[..., Any], name: str, merge: bool, options: dict[str, Any]) -> Any:
    detector = create(name, **options)
    return MergedClasses(detector) if merge else detector


def _explained(build: Callable[[], Any], name: str, task: str, model: str) -> Any:
    """``build()``; a default detector's missing checkpoint becomes an error that says what to pass instead."""
    try:
        return build()
    except WeightsError as exc:
        objects = task_detector(task).objects
        raise type(exc)(
            f"{model} runs on {objects[:-1]} boxes and its default detector {name} has no weights: {exc}. Pass the "
            f"boxes (boxes= in Python, --boxes FILE), the checkpoint (detector_weights=PATH; --detector {name} "
            f"--detector-weights PATH) or another detector (detector= / --detector NAME)") from exc
