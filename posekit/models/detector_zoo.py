"""Official detector checkpoints as data: RTMDet (MMDetection 3.x / MMPose's person and hand detectors) and YOLOX
(Megvii).

* :data:`CHECKPOINTS` -- one :class:`DetectorCheckpoint` row per public name (family, variant, class names, input
  size, URL, sha256, published accuracy, config).
* :data:`COCO_CLASSES` -- the 80 COCO class names in the order of the COCO-80 detectors' class ids (0 = person).
* :data:`MODELS` -- their registry entries (task ``"detect"``): ``posekit.create_model(name, weights=PATH)`` builds
  the network (:class:`~posekit.models.rtmdet.RTMDet` or :class:`~posekit.models.yolox.YOLOX`) and loads the official
  file strictly; :func:`posekit.detect.create_detector` wraps it into a detector (image in, boxes out).
* :func:`load_detector_weights` -- the strict loader: it names a checkpoint of another family (a YOLOX file given
  to an RTMDet model, a pose model's file), one with another number of classes (COCO-80 given to a person-only
  model and back), and every missing / unexpected / mis-shaped key, each in one error naming the file.

Hashes: OpenMMLab file names end with the first 8 hex digits of the file's sha256, verified as a prefix (as
:mod:`posekit.models.mmpose_zoo`); the YOLOX release assets carry no hash in their names, their full sha256 is
pinned here as published in third-party checkpoint manifests (``yolox_nano.pth``'s by two independent ones).

Nothing heavy is imported here: torch and the family builders load when a model is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from posekit.models.convert import load_official_file
from posekit.models.registry import ModelEntry
from posekit.models.weights import WeightsSpec, fetch_pretrained

__all__ = ["CHECKPOINTS", "COCO_CLASSES", "DetectorCheckpoint", "MODELS", "build_detector_network",
           "detector_checkpoint", "load_detector_weights"]

_MMDET = "https://download.openmmlab.com/mmdetection/v3.0/rtmdet/"
_MMPOSE_DET = "https://download.openmmlab.com/mmpose/v1/projects/rtmpose/"
_MMPOSE_DET_V1 = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
_YOLOX = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/"
_OPENMMLAB = "Apache-2.0 (OpenMMLab model zoo)"
_MEGVII = "Apache-2.0 (Megvii-BaseDetection/YOLOX)"

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
"""The COCO detection classes by class id (MMDet's ``CocoDataset.METAINFO["classes"]`` order, 0 = person)."""


@dataclass(frozen=True)
class DetectorCheckpoint:
    """One official detector checkpoint: one public model name.

    Attributes:
        name: the public name (``"rtmdet_nano_person"``, ``"rtmdet_nano_hand"``, ``"yolox_s"``, ...).
        family: ``"rtmdet"`` or ``"yolox"`` (which network and detector build it).
        variant: the family's size (``"nano"``, ``"tiny"``, ``"s"``, ``"m"``, ``"l"``, ``"x"``).
        num_classes: 1 (MMPose's person-only and hand-only detectors) or 80 (COCO; class 0 is person).
        input_size: the square network input side in pixels the variant was trained and tested at.
        url: the official file; sha256: its full sha256 or the first 8 hex digits (OpenMMLab file names).
        metrics: published accuracy as fractions: ``coco_box_ap`` (COCO val2017 box AP, 80 classes),
            ``coco_person_ap`` (person AP on COCO val2017) or ``hand_ap`` (hand box AP as the RTMPose project
            publishes it for its hand detector, trained on five hand datasets).
        config: the upstream config (MMDet/MMPose config name, or the YOLOX ``exps/default`` file).
        container: the key the official file keeps its state dict under (``"state_dict"``: OpenMMLab,
            ``"model"``: YOLOX releases); :func:`posekit.models.weights.load_checkpoint` unwraps both.
        license: the weights' license.
        class_names: the name of each class id (``num_classes`` names: :data:`COCO_CLASSES`, ``("person",)``,
            ``("hand",)``).
    """

    name: str
    family: str
    variant: str
    num_classes: int
    input_size: int
    url: str
    sha256: str
    metrics: Mapping[str, float]
    config: str
    container: str
    license: str
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.name}: {len(self.class_names)} class names for {self.num_classes} classes")

    @property
    def description(self) -> str:
        """One line for ``posekit models``."""
        classes = f"{self.class_names[0]}s" if self.num_classes == 1 else "COCO 80 classes"
        (metric, value), = self.metrics.items()
        what = {"coco_person_ap": "COCO val person AP", "coco_box_ap": "COCO val box AP", "hand_ap": "hand AP"}[metric]
        family, upstream = {"rtmdet": ("RTMDet", "MMDet/MMPose"), "yolox": ("YOLOX", "Megvii")}[self.family]
        return (f"{family}-{self.variant} ({classes}), {self.input_size}x{self.input_size}, {what} "
                f"{100 * value:.1f} ({upstream})")

    def weights_spec(self) -> WeightsSpec:
        """The row as a :class:`WeightsSpec` (input size, BGR mean/std of the family, license, config in ``meta``)."""
        rtmdet = self.family == "rtmdet"
        return WeightsSpec(
            url=self.url, sha256=self.sha256, filename=self.url.rsplit("/", 1)[-1],
            input_size=(self.input_size, self.input_size),
            mean=(103.53, 116.28, 123.675) if rtmdet else (0.0, 0.0, 0.0),
            std=(57.375, 57.12, 58.395) if rtmdet else (1.0, 1.0, 1.0),
            license=self.license, notes="BGR input, letterboxed to the top-left corner, padded with 114",
            source=("https://github.com/open-mmlab/mmdetection" if rtmdet
                    else "https://github.com/Megvii-BaseDetection/YOLOX") + f" ({self.config})",
            meta={"config": self.config, "metrics": dict(self.metrics), "num_classes": self.num_classes,
                  "container": self.container},
        )


def _rtmdet(name: str, variant: str, classes: tuple[str, ...], size: int, url: str, metric: str, value: float,
            config: str) -> DetectorCheckpoint:
    return DetectorCheckpoint(name, "rtmdet", variant, len(classes), size, url, url.rsplit("-", 1)[1][:8],
                              {metric: value}, config, "state_dict", _OPENMMLAB, classes)


def _yolox(variant: str, size: int, ap: float, sha256: str) -> DetectorCheckpoint:
    return DetectorCheckpoint(f"yolox_{variant}", "yolox", variant, 80, size, f"{_YOLOX}yolox_{variant}.pth", sha256,
                              {"coco_box_ap": ap}, f"exps/default/yolox_{variant}.py", "model", _MEGVII,
                              COCO_CLASSES)


# Metrics: MMPose's RTMPose README (person detectors; the hand detector's "AP (hand)" 76.0, trained on COCO-WholeBody
# hands, OneHand10K, FreiHand, RHD and Halpe hands), MMDet's configs/rtmdet/metafile.yml, YOLOX's model zoo (val).
# The hand detector's URL and config are MMPose 1.3.2's default hand detector (apis/inferencers/utils/
# default_det_models.py); the config is rtmdet_nano_320-8xb32_coco-person's network with one "hand" class.
CHECKPOINTS: tuple[DetectorCheckpoint, ...] = (
    _rtmdet("rtmdet_nano_person", "nano", ("person",), 320,
            _MMPOSE_DET + "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.pth", "coco_person_ap", 0.403,
            "rtmdet_nano_320-8xb32_coco-person"),
    _rtmdet("rtmdet_m_person", "m", ("person",), 640,
            _MMPOSE_DET + "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth", "coco_person_ap", 0.625,
            "rtmdet_m_640-8xb32_coco-person"),
    _rtmdet("rtmdet_nano_hand", "nano", ("hand",), 320,
            _MMPOSE_DET_V1 + "rtmdet_nano_8xb32-300e_hand-267f9c8f.pth", "hand_ap", 0.760,
            "rtmdet_nano_320-8xb32_hand"),
    _rtmdet("rtmdet_tiny", "tiny", COCO_CLASSES, 640,
            _MMDET + "rtmdet_tiny_8xb32-300e_coco/rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth",
            "coco_box_ap", 0.409, "rtmdet_tiny_8xb32-300e_coco"),
    _rtmdet("rtmdet_s", "s", COCO_CLASSES, 640,
            _MMDET + "rtmdet_s_8xb32-300e_coco/rtmdet_s_8xb32-300e_coco_20220905_161602-387a891e.pth",
            "coco_box_ap", 0.445, "rtmdet_s_8xb32-300e_coco"),
    _rtmdet("rtmdet_m", "m", COCO_CLASSES, 640,
            _MMDET + "rtmdet_m_8xb32-300e_coco/rtmdet_m_8xb32-300e_coco_20220719_112220-229f527c.pth",
            "coco_box_ap", 0.491, "rtmdet_m_8xb32-300e_coco"),
    _rtmdet("rtmdet_l", "l", COCO_CLASSES, 640,
            _MMDET + "rtmdet_l_8xb32-300e_coco/rtmdet_l_8xb32-300e_coco_20220719_112030-5a0be7c4.pth",
            "coco_box_ap", 0.513, "rtmdet_l_8xb32-300e_coco"),
    _yolox("nano", 416, 0.258, "cd28f55fbbc1829f99d9ac9b38a16d259a22889739c8728ea877610201feff7b"),
    _yolox("tiny", 416, 0.328, "9de513de589ac98bb92d3bca53b5af7b9acfa9b0bacb831f7999d0f7afaee8f0"),
    _yolox("s", 640, 0.405, "f55ded7181e1b0c13285c56e7790b8f0e8f8db590fe4edb37f0b7f345c913a30"),
    _yolox("m", 640, 0.469, "60076992b32da82951c90cfa7bd6ab70eba9eda243e08b940a396f60ac2d19b6"),
    _yolox("l", 640, 0.497, "1e6b7fa6240375370b2a8a8eab9066b3cdd43fd1d0bfa8d2027fd3a51def2917"),
    _yolox("x", 640, 0.511, "5652330b6ae860043f091b8f550a60c10e1129f416edfdb65c259be6caf355cf"),
)

# Which network family a checkpoint holds, told by one key only that family's state dict has (checked in order).
_FAMILY_MARKERS: tuple[tuple[str, str], ...] = (
    ("backbone.backbone.stem.conv.", "a YOLOX checkpoint (Megvii layout)"),
    ("bbox_head.rtm_cls.", "an RTMDet checkpoint (MMDetection 3.x)"),
    ("bbox_head.multi_level_conv_cls.", "an MMDetection YOLOX checkpoint (not the Megvii layout posekit loads)"),
    ("head.dcc.", "an RTMO checkpoint (MMPose one-stage pose model)"),
    ("head.", "an MMPose pose-model checkpoint"),
    ("keypoint_head.", "an MMPose 0.x pose-model checkpoint"),
)
_OWN_MARKER = {"yolox": _FAMILY_MARKERS[0], "rtmdet": _FAMILY_MARKERS[1]}
_CLASS_KEY = {"yolox": "head.cls_preds.0.weight", "rtmdet": "bbox_head.rtm_cls.0.weight"}


def detector_checkpoint(name: str) -> DetectorCheckpoint:
    """The row of ``name``; ``KeyError`` naming the known detectors otherwise."""
    for row in CHECKPOINTS:
        if row.name == name:
            return row
    raise KeyError(f"no official detector checkpoint {name!r}; known: {', '.join(r.name for r in CHECKPOINTS)}")


def _what(keys: list[str]) -> str:
    for marker, what in _FAMILY_MARKERS:
        if any(k.startswith(marker) for k in keys):
            return what
    return f"not a detector checkpoint (first keys: {', '.join(keys[:3])})"


def load_detector_weights(model: Any, path: str | os.PathLike[str], row: DetectorCheckpoint, *,
                          sha256: str | None = None) -> None:
    """Load the official checkpoint ``path`` of ``row`` into ``model`` strictly (``torch.load(weights_only=True)``).

    ``sha256`` (full or a prefix of >= 8 hex digits), when given, is checked first. Raises ``ValueError`` naming the
    file when it holds another family's network, another number of classes, or keys that do not match (every
    missing / unexpected / mis-shaped key); :class:`~posekit.models.weights.WeightsError` for a file that is not a
    readable checkpoint (an EMA-only file included), :class:`~posekit.models.weights.ChecksumError` on a hash
    mismatch.
    """
    def check(state: Mapping[str, Any]) -> None:
        keys = list(state)
        marker, expected = _OWN_MARKER[row.family]
        if not any(k.startswith(marker) for k in keys):
            raise ValueError(f"{path} is {_what(keys)}, but {row.name} needs {expected}; pass it to a model of its "
                             "own family (posekit models --task detect)")
        classes = state.get(_CLASS_KEY[row.family])
        if classes is not None and classes.ndim >= 1 and classes.shape[0] != row.num_classes:
            others = [r.name for r in CHECKPOINTS if r.family == row.family and r.num_classes == classes.shape[0]]
            hint = f" (the {classes.shape[0]}-class models: {', '.join(others)})" if others else ""
            raise ValueError(f"{path} holds a {classes.shape[0]}-class {row.family} detector but {row.name} has "
                             f"{row.num_classes} class{'es' if row.num_classes > 1 else ''}{hint}")
        hint = _variant_hint(state, row)
        if hint:
            raise ValueError(f"{path}{hint}")

    load_official_file(model, path, sha256=sha256, check=check)


def _variant_hint(state: Mapping[str, Any], row: DetectorCheckpoint) -> str:
    """``" looks like a <names> checkpoint (...)"`` when the checkpoint's stem width is another variant's."""
    if row.family == "yolox":
        from posekit.models.yolox import VARIANTS
        key, widths = "backbone.backbone.stem.conv.conv.weight", {v: int(64 * c.width) for v, c in VARIANTS.items()}
    else:
        from posekit.models.rtmdet import RTMDET_VARIANTS
        key = "backbone.stem.0.conv.weight"
        widths = {v: int(64 * c.widen_factor) // 2 for v, c in RTMDET_VARIANTS.items()}
    stem = state.get(key)
    if stem is None or stem.ndim < 1:
        return ""
    names = [r.name for r in CHECKPOINTS if r.family == row.family and r.num_classes == row.num_classes
             and widths.get(r.variant) == stem.shape[0] and r.variant != row.variant]
    return (f" looks like a {' or '.join(names)} checkpoint (its stem has {stem.shape[0]} channels), not "
            f"{row.name}'s" if names else "")


def build_detector_network(row: DetectorCheckpoint, *, weights: Any = None, pretrained: bool = False,
                           check_sha256: bool = False, device: str = "cpu") -> Any:
    """The network of ``row`` in eval mode on ``device``.

    ``weights``: a path to the official checkpoint, loaded strictly (:func:`load_detector_weights`);
    ``check_sha256=True`` also checks the file against the pinned hash. Without ``weights``: ``pretrained=True``
    downloads the official file (verified) into the cache (offline: an error naming the URL and ``--weights``),
    else random initialisation.
    """
    if row.family == "rtmdet":
        from posekit.models.rtmdet import rtmdet
        model = rtmdet(row.variant, num_classes=row.num_classes)
    else:
        from posekit.models.yolox import yolox
        model = yolox(row.variant, num_classes=row.num_classes)
    if weights is None and pretrained:
        weights = fetch_pretrained(row.weights_spec(), what=f"detector {row.name}", flag="--detector-weights")
    if weights is not None:
        load_detector_weights(model, weights, row, sha256=row.sha256 if check_sha256 else None)
    return model.to(device).eval()


MODELS: tuple[ModelEntry, ...] = tuple(
    ModelEntry(row.name, "detect", None, row.description, partial(build_detector_network, row), offline=False,
               license=row.license, weights=row.weights_spec())
    for row in CHECKPOINTS)
