"""What every dataset loader returns: :class:`PoseSample` records plus a :class:`LoadReport` of what was skipped.

Coordinate frame of every 2D array: image pixels, x to the right, y down, origin at the top-left corner of the
top-left pixel (the frame of :mod:`posekit.types`). A keypoint that is not labelled is NaN.

Loaders never crash on a bad record: they skip it and list it in the report with the reason (a missing key, a bad
shape, an image file that does not exist, too few labelled keypoints, ...). A missing or unreadable annotation
file, on the other hand, is an error that names the file.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from posekit.skeletons import Skeleton

__all__ = ["LoadReport", "PoseSample", "SkipReason", "SkippedRecord", "box_from_keypoints"]

SkipReason = Literal["missing_key", "bad_value", "bad_shape", "missing_image", "unknown_image", "too_few_keypoints"]
_REASONS = frozenset(SkipReason.__args__)  # type: ignore[attr-defined]


def _readonly(value: Any) -> Any:
    """A read-only copy of arrays; other meta values (numbers, strings, tuples) are kept as they are."""
    if isinstance(value, np.ndarray):
        out = np.array(value, copy=True)
        out.setflags(write=False)
        return out
    if isinstance(value, list):
        return tuple(_readonly(v) for v in value)
    return value


@dataclass(frozen=True, eq=False)
class PoseSample:
    """One annotated instance (person, hand, face, animal) in one image.

    Attributes:
        image_path: the image file, or ``None`` when the loader was given no image folder.
        keypoints: (K, 2) float32 image pixels (frame in the module docstring); NaN where the keypoint is not
            labelled.
        visible: (K,) float32 in [0, 1]: 1 = labelled and visible, 0 = not labelled or labelled but occluded.
            ``np.isfinite(keypoints[:, 0])`` tells labelled from unlabelled. Each loader documents how its format's
            flags map here.
        box: (4,) float32 ``x1, y1, x2, y2`` pixels, or ``None`` when the format has none (each loader documents
            where its boxes come from).
        skeleton: the keypoint layout (``skeleton.num_keypoints == K``).
        image_id: the format's image identifier (COCO ``image_id``, LSP file stem, MPII image name, ...).
        meta: read-only mapping of format-specific extras (e.g. ``head_size`` for MPII, ``area``, ``iscrowd``,
            ``track_id``, ``frame_index``, ``occluded`` flags); arrays in it are read-only copies.

    Arrays are copied and made read-only; inputs are never aliased. Equality is identity (``eq=False``).
    Raises ``ValueError`` naming the field on a bad shape or a ``visible`` value outside [0, 1].
    """

    image_path: Path | None
    keypoints: np.ndarray
    visible: np.ndarray
    box: np.ndarray | None
    skeleton: Skeleton
    image_id: int | str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.skeleton, Skeleton):
            raise TypeError(f"skeleton must be a posekit Skeleton, got {type(self.skeleton).__name__}")
        k = self.skeleton.num_keypoints
        kpts = np.array(self.keypoints, dtype=np.float32, copy=True)
        if kpts.shape != (k, 2):
            raise ValueError(
                f"keypoints must have shape ({k}, 2) for skeleton {self.skeleton.name!r}, got {kpts.shape}"
            )
        kpts[~np.isfinite(kpts).all(axis=1)] = np.nan
        vis = np.array(self.visible, dtype=np.float32, copy=True)
        if vis.shape != (k,):
            raise ValueError(f"visible must have shape ({k},), got {vis.shape}")
        if not np.all((vis >= 0) & (vis <= 1)):
            raise ValueError(f"visible must lie in [0, 1], got range [{np.nanmin(vis):.4g}, {np.nanmax(vis):.4g}]")
        vis[np.isnan(kpts[:, 0])] = 0.0
        box = None
        if self.box is not None:
            box = np.array(self.box, dtype=np.float32, copy=True)
            if box.shape != (4,) or not np.isfinite(box).all():
                raise ValueError(f"box must be 4 finite numbers x1, y1, x2, y2, got shape {box.shape}")
        for arr in (kpts, vis, box):
            if arr is not None:
                arr.setflags(write=False)
        if not isinstance(self.meta, Mapping):
            raise TypeError(f"meta must be a mapping, got {type(self.meta).__name__}")
        path = None if self.image_path is None else Path(self.image_path)
        set_ = object.__setattr__
        set_(self, "image_path", path)
        set_(self, "keypoints", kpts)
        set_(self, "visible", vis)
        set_(self, "box", box)
        set_(self, "meta", MappingProxyType({str(key): _readonly(v) for key, v in self.meta.items()}))

    @property
    def num_labelled(self) -> int:
        """Number of labelled (finite) keypoints."""
        return int(np.isfinite(self.keypoints[:, 0]).sum())


@dataclass(frozen=True)
class SkippedRecord:
    """One record a loader left out.

    Attributes:
        index: position of the record in its source (annotation list index, image index, table row, ...).
        reason: the kind of problem (one of :data:`SkipReason`).
        message: what exactly was wrong, naming the key or value.
        record_id: the record's own id when it has one (COCO annotation ``id``, LSP image number, ...).
    """

    index: int | str
    reason: SkipReason
    message: str
    record_id: Any = None

    def __post_init__(self) -> None:
        if self.reason not in _REASONS:
            raise ValueError(f"reason must be one of {sorted(_REASONS)}, got {self.reason!r}")


@dataclass(frozen=True)
class LoadReport:
    """What a loader read from ``source``, what it loaded and what it skipped (and why).

    Attributes:
        source: the file (or folder) read.
        num_records: records seen (annotations, images, rows, sequences).
        num_loaded: records turned into samples.
        skipped: the records left out, each with its reason.
        notes: decisions the loader took that a user should know (inferred skeleton, flag semantics, dropped
            out-of-range skeleton links, ...).
    """

    source: Path
    num_records: int
    num_loaded: int
    skipped: tuple[SkippedRecord, ...] = ()
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Skipped records per reason, e.g. ``{"missing_image": 3}``."""
        return dict(Counter(s.reason for s in self.skipped))

    def summary(self) -> str:
        """One line, e.g. ``'person.json: 120 of 123 records loaded; skipped: missing_image 3'``."""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items()))
        tail = f"; skipped: {counts}" if counts else ""
        return f"{self.source.name}: {self.num_loaded} of {self.num_records} records loaded{tail}"


class _Collector:
    """Accumulates skipped records and notes while a loader runs (private, one per call)."""

    def __init__(self) -> None:
        self.skipped: list[SkippedRecord] = []
        self.notes: list[str] = []

    def skip(self, index: int | str, reason: SkipReason, message: str, record_id: Any = None) -> None:
        self.skipped.append(SkippedRecord(index, reason, message, record_id))

    def report(self, source: str | os.PathLike, num_records: int, num_loaded: int) -> LoadReport:
        return LoadReport(Path(source), num_records, num_loaded, tuple(self.skipped), tuple(self.notes))


def box_from_keypoints(keypoints: np.ndarray, *, padding: float = 1.2) -> np.ndarray | None:
    """Box around the labelled keypoints, enlarged about its centre.

    Args:
        keypoints: (K, 2) image pixels; NaN rows are ignored. Not modified.
        padding: factor applied to the tight box's width and height (1 = tight). Joints are centres of limbs
            and heads, so a tight box cuts hands, feet and the top of the head; 1.2 keeps them.

    Returns:
        (4,) float32 ``x1, y1, x2, y2`` pixels (not clipped to the image), or ``None`` when no keypoint is
        labelled. A single keypoint gives a zero-size box at that point.
    """
    pts = np.asarray(keypoints, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"keypoints must have shape (K, 2), got {pts.shape}")
    if not (np.isfinite(padding) and padding > 0):
        raise ValueError(f"padding must be a positive number, got {padding!r}")
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center, half = (lo + hi) / 2.0, (hi - lo) * padding / 2.0
    return np.concatenate([center - half, center + half]).astype(np.float32)
