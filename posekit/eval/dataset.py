"""The evaluation set of ``posekit eval``: dataset annotations loaded with :mod:`posekit.data`, grouped by image.

Records the loaders reject (missing keys, bad shapes, empty keypoints, missing image files) are listed in the
:class:`~posekit.data.LoadReport`, never raised. Coordinates are image pixels, x right, y down, origin at the
top-left pixel's corner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from posekit import data
from posekit import skeletons as sk
from posekit.data.sample import LoadReport, PoseSample
from posekit.skeletons import Skeleton

__all__ = ["EVAL_DATASETS", "EvalSet", "load_eval_set"]

EVAL_DATASETS = ("coco", "lsp", "lspet", "mpii", "posetrack18")
"""``coco``: any COCO-format keypoint JSON (skeleton inferred); ``lsp``: LSP test split (images 1001-2000) from the
``joints.mat`` folder; ``lspet``: LSP-extended; ``mpii``: pose-hg-train ``.h5`` (e.g. ``hg_valid.h5``);
``posetrack18``: PoseTrack18 frames, one COCO-format JSON per video or a folder of them
(:func:`posekit.data.load_posetrack18`; images under the dataset root, default: the folder holding
``annotations/``)."""


@dataclass(frozen=True)
class EvalSet:
    """Annotated samples grouped by image.

    Attributes:
        dataset: one of :data:`EVAL_DATASETS`. ann: the annotation file (LSP: the folder with ``joints.mat``).
        samples: every loaded GT instance (:class:`~posekit.data.PoseSample`, image pixels).
        images: ``(image path, sample indices)`` in load order, at most ``limit`` of them.
        report: the loader's :class:`~posekit.data.LoadReport` (skipped records and why).
        skeleton: the dataset's keypoint layout.
    """

    dataset: str
    ann: Path
    samples: tuple[PoseSample, ...]
    images: tuple[tuple[Path, tuple[int, ...]], ...]
    report: LoadReport
    skeleton: Skeleton


def load_eval_set(dataset: str, *, ann: str | os.PathLike, images: str | os.PathLike | None = None,
                  limit: int | None = None) -> EvalSet:
    """Load ``dataset`` annotations (``ann``) with images under ``images`` (LSP: default ``ann/images``;
    PoseTrack18: default the dataset root, the folder above ``annotations/``, which ``file_name`` is relative to).

    Raises ``ValueError`` for an unknown dataset or a bad ``limit``; the loaders raise for a missing or unreadable
    annotation file. Bad records are skipped and listed in ``report``.
    """
    if dataset not in EVAL_DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(EVAL_DATASETS)}, got {dataset!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 image, got {limit}")
    ann = Path(ann)
    if dataset == "coco":
        if images is None:
            raise ValueError("--images (the folder the annotations' file_name is relative to) is required for coco")
        samples, report = data.load_coco_keypoints(ann, image_dir=images)
        samples = [s for s in samples if not s.meta.get("iscrowd", 0)]
    elif dataset in ("lsp", "lspet"):
        if images is not None and Path(images).resolve() != (ann / "images").resolve():
            raise ValueError(f"LSP images must be in {str(ann / 'images')!r} (the loader's layout), got {images!r}")
        samples, report = data.load_lsp(ann, extended=dataset == "lspet")
    elif dataset == "posetrack18":
        samples, report = data.load_posetrack18(ann, image_dir=_posetrack_root(ann) if images is None else images)
    else:
        samples, report = data.load_mpii(ann, image_dir=images)
    groups: dict[Path, list[int]] = {}
    for i, s in enumerate(samples):
        if s.image_path is not None:
            groups.setdefault(s.image_path, []).append(i)
    items = tuple((p, tuple(ix)) for p, ix in groups.items())[:limit]
    skeleton = samples[0].skeleton if samples else _default_skeleton(dataset)
    return EvalSet(dataset, ann, tuple(samples), items, report, skeleton)


def _posetrack_root(ann: Path) -> Path:
    """The PoseTrack18 root of ``ann`` (``ROOT/annotations/val/x.json`` or ``ROOT/annotations/x.json``): the folder
    above ``annotations``; ``ValueError`` when ``ann`` is not under such a folder."""
    path = Path(ann)
    for parent in (path, *path.parents) if path.is_dir() else path.parents:
        if parent.name == "annotations":
            return parent.parent
    raise ValueError(f"PoseTrack18 annotations {str(ann)!r} are not under an 'annotations' folder: give --images, "
                     "the dataset root the annotations' file_name (images/val/...) is relative to")


def _default_skeleton(dataset: str) -> Skeleton:
    """The layout of a set with no sample (nothing to evaluate: the runner refuses it before predicting);
    PoseTrack18's layout comes from its files, ``coco17`` stands in for it."""
    return {"coco": sk.coco17, "lsp": sk.lsp14, "lspet": sk.lsp14, "mpii": sk.mpii16,
            "posetrack18": sk.coco17}[dataset]
