"""Top-down training augmentation: one person's image, keypoints, visibility and crop region, transformed together.

The transforms are MMPose 1.3.2's top-down training pipeline as plain functions on a frozen :class:`Instance`
(``RandomFlip`` -> ``RandomHalfBody`` -> ``RandomBBoxTransform`` -> ``TopdownAffine``; photometric jitter and
coarse dropout on the crop live in :mod:`posekit.data.photometric`). Randomness comes only from an explicit
``numpy.random.Generator``: the same generator state gives the same result. Inputs are never modified.

Coordinate frames (both x right, y down):

* *image frame* (every :class:`Instance` array): posekit's image pixels, origin at the top-left **corner** of the
  top-left pixel, so the centre of pixel (row ``i``, column ``j``) is ``(j + 0.5, i + 0.5)``; the frame of
  :class:`~posekit.data.sample.PoseSample` and :class:`~posekit.types.Poses`. A horizontal flip of a ``W`` pixel wide
  image maps ``x -> W - x``.
* *input frame* (:class:`Crop` keypoints): the model-input crop in the codecs' convention, pixel ``j`` **centred** at
  ``j`` (OpenCV / MMPose), so the crop's keypoints go straight to :mod:`posekit.codecs` encoders.

MMPose works in a single frame with pixel centres at integers: it flips with ``x -> w - 1 - x`` and applies the warp
matrix to annotation coordinates as they are. The mirror is the same; the crop differs by half a pixel, which
:func:`affine_crop` removes by applying the OpenCV warp to ``keypoints - 0.5``, so a keypoint stays on its image
content to float precision at any zoom (tests draw dots and check). For annotations already in the pixel-centre
convention add 0.5 before building an :class:`Instance`. Back to image pixels: :func:`posekit.crops.crop_to_image`
returns pixel-centre coordinates; add 0.5 for this module's image frame. ``half_pixel=False`` reproduces MMPose's
crop arithmetic instead, for a model that will run behind a pipeline which does not shift: labels then sit half
an image pixel right of and below their content, an offset the network learns and the unshifted back-projection
undoes (exactly without rotation augmentation; the flip stays ``x -> W - x`` so flipped labels agree).

**The default is** ``half_pixel=False``: training crops are cut exactly as the inference pipeline
(:class:`posekit.pipelines.topdown.TopDownEstimator`, MMPose's arithmetic) cuts them, so a model trained here learns
MMPose's crop convention and inference reproduces it (bit for bit for an unrotated crop); the half-pixel offset is
then part of what the network learns and is undone by the pipeline's unshifted back-projection, and MMPose
checkpoints fine-tuned here keep the convention they were trained with. ``half_pixel=True`` is the geometrically
exact crop (labels on their content at any zoom), for pipelines that shift by half a pixel.

Visibility is carried, never recomputed: keypoints pushed out of the crop keep their ``visible`` value, as in
MMPose, whose encoders then give them zero weight (``MSRAHeatmap`` once the Gaussian misses the map, ``SimCC`` /
``Regression`` once outside the input). Unlabelled keypoints are NaN and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from posekit.crops import box_to_center_scale, fix_aspect_ratio, transform_points, warp_crops, warp_matrix
from posekit.data.photometric import coarse_dropout, photometric_distortion
from posekit.skeletons import Skeleton

__all__ = [
    "AugmentOptions", "Crop", "Instance", "TopdownAugment", "affine_crop", "body_halves", "crop_instance",
    "flip_instance", "half_body_region", "random_box_transform", "random_flip", "random_half_body",
]

_LOWER_TOKENS = frozenset({"hip", "knee", "ankle", "foot", "heel", "toe", "toes", "pelvis", "root", "tail", "back"})


def _truncated_normal(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size,) standard normal draws truncated to [-1, 1] by rejection (the law of MMPose's ``truncnorm(-1, 1)``)."""
    out = rng.standard_normal(size)
    while (bad := np.abs(out) > 1.0).any():
        out[bad] = rng.standard_normal(int(bad.sum()))
    return out


def _frozen(name: str, value: object, dtype: type, shape: tuple[int | None, ...]) -> np.ndarray:
    """Read-only array of ``dtype``; a read-only array of that dtype is trusted and kept, anything else copied."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.dtype != dtype or arr.flags.writeable:
        arr = np.array(arr, dtype=dtype, copy=True)
        arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Instance:
    """One person in one image and the region to crop around it (the state the geometric transforms pass on).

    Attributes:
        image: (H, W, C) uint8, any channel order (kept).
        keypoints: (K, 2) float64 image frame (module docstring); NaN rows are unlabelled.
        visible: (K,) float32 in [0, 1], carried through every transform.
        center: (2,) float64 crop centre ``(cx, cy)``, image frame.
        scale: (2,) float64 crop size ``(w, h)`` in pixels (its aspect ratio is fixed only by :func:`affine_crop`).
        rotation: degrees; the sign convention of :func:`posekit.crops.warp_matrix` (standard: content turns
            anticlockwise on screen; UDP: clockwise).
        flipped: whether an odd number of horizontal flips was applied.

    Arrays are stored read-only (copied unless already read-only with the right dtype).
    """

    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    rotation: float = 0.0
    flipped: bool = False

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or 0 in image.shape:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image must be an (H, W, C) uint8 array, got {got}")
        kpts = _frozen("keypoints", self.keypoints, np.float64, (None, 2))
        k = kpts.shape[0]
        vis = _frozen("visible", self.visible, np.float32, (k,))
        center = _frozen("center", self.center, np.float64, (2,))
        scale = _frozen("scale", self.scale, np.float64, (2,))
        if not (np.all(np.isfinite(center)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError(f"center must be finite and scale positive, got {center.tolist()}, {scale.tolist()}")
        if not np.isfinite(self.rotation):
            raise ValueError(f"rotation must be finite, got {self.rotation!r}")
        set_ = object.__setattr__
        set_(self, "image", _frozen("image", image, np.uint8, (None, None, image.shape[2])))
        for name, arr in (("keypoints", kpts), ("visible", vis), ("center", center), ("scale", scale)):
            set_(self, name, arr)
        set_(self, "rotation", float(self.rotation))
        set_(self, "flipped", bool(self.flipped))

    @classmethod
    def from_box(
        cls, image: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, box: np.ndarray, *, padding: float = 1.25
    ) -> Instance:
        """Instance whose crop region is the xyxy ``box`` (image frame) enlarged ``padding`` times (MMPose
        ``GetBBoxCenterScale``)."""
        b = np.asarray(box, dtype=np.float64)
        if b.shape != (4,):
            raise ValueError(f"box must be (4,) x1, y1, x2, y2 pixels, got shape {b.shape}")
        center, scale = box_to_center_scale(b[None], padding=padding)
        return cls(image, keypoints, visible, center[0], scale[0])


@dataclass(frozen=True, eq=False)
class Crop:
    """A model-input crop and its keypoints.

    Attributes:
        image: (h, w, C) uint8 crop, ``(w, h)`` = the ``input_size`` it was cut at.
        keypoints: (K, 2) float32 input frame (pixel ``j`` centred at ``j``); NaN = unlabelled. May lie outside
            ``[0, w-1] x [0, h-1]``.
        visible: (K,) float32, as given (not zeroed outside the crop; the encoders do that).
        center: (2,) float64 crop centre, image frame.
        scale: (2,) float64 crop size ``(w, h)`` in image pixels, aspect ratio fixed to the input's.
        rotation: degrees (sign as :func:`posekit.crops.warp_matrix` with the crop's ``udp``).
        flipped: whether the crop is mirrored relative to the source image.
        matrix: (2, 3) float64 affine map image frame -> input frame (``[x', y'] = M[:, :2] @ [x, y] + M[:, 2]``).
        holes: (M, 4) int32 ``x1, y1, x2, y2`` (exclusive ends) input-pixel rectangles erased by coarse dropout.
    """

    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flipped: bool
    matrix: np.ndarray
    holes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))


def body_halves(skeleton: Skeleton) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Upper- and lower-body keypoint indices by name, as MMPose's dataset metadata (``upper``/``lower`` types).

    Lower body: names with a token among hip, knee, ankle, foot, heel, toe(s), pelvis, root, tail, back (animal
    back paws); everything else is upper body (e.g. COCO: 0-10 upper, 11-16 lower; LSP: 0-5 lower).
    """
    lower = tuple(i for i, n in enumerate(skeleton.keypoints) if _LOWER_TOKENS & set(n.lower().split("_")))
    upper = tuple(i for i in range(skeleton.num_keypoints) if i not in lower)
    return upper, lower


def flip_instance(inst: Instance, *, flip_indices: Sequence[int]) -> Instance:
    """Mirror left-right: the image, ``x -> W - x`` (image frame), left/right keypoint swap, the crop centre, and
    the rotation's sign (a mirror reverses the turning sense; MMPose flips before rotating so never needs it).

    Args:
        inst: the instance; not modified.
        flip_indices: (K,) permutation with ``flipped[k] = original[flip_indices[k]]``
            (:attr:`posekit.skeletons.Skeleton.flip_indices`).

    Returns:
        A new :class:`Instance`; flipping twice gives back the original (coordinates up to float rounding).
    """
    idx = np.asarray(flip_indices, dtype=np.int64)
    k = inst.keypoints.shape[0]
    if idx.shape != (k,) or sorted(idx.tolist()) != list(range(k)):
        raise ValueError(f"flip_indices must be a permutation of range({k}), got {list(flip_indices)}")
    width = inst.image.shape[1]
    kpts = inst.keypoints[idx].copy()
    kpts[:, 0] = width - kpts[:, 0]
    center = np.array([width - inst.center[0], inst.center[1]])
    image = np.ascontiguousarray(inst.image[:, ::-1])
    image.setflags(write=False)  # fresh array: Instance keeps it without another copy
    return replace(inst, image=image, keypoints=kpts, visible=inst.visible[idx], center=center,
                   rotation=-inst.rotation, flipped=not inst.flipped)


def random_flip(inst: Instance, rng: np.random.Generator, *, flip_indices: Sequence[int],
                prob: float = 0.5) -> Instance:
    """:func:`flip_instance` with probability ``prob`` (MMPose ``RandomFlip(direction='horizontal')``)."""
    return flip_instance(inst, flip_indices=flip_indices) if rng.random() < prob else inst


def half_body_region(keypoints: np.ndarray, *, padding: float = 1.5) -> tuple[np.ndarray, np.ndarray] | None:
    """Crop region around a subset of keypoints (MMPose ``RandomHalfBody._get_half_body_bbox``).

    Args:
        keypoints: (M, 2) finite image-frame keypoints of one body half.
        padding: factor on the tight box's width and height.

    Returns:
        ``(center, scale)`` (2,) float64 each: the keypoints' **mean** (not the box centre, as MMPose) and the tight
        box size times ``padding``; ``None`` when all keypoints coincide (no region).
    """
    pts = np.asarray(keypoints, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0 or not np.all(np.isfinite(pts)):
        raise ValueError(f"keypoints must be a non-empty finite (M, 2) array, got shape {pts.shape}")
    scale = (pts.max(axis=0) - pts.min(axis=0)) * padding
    if not np.any(scale > 0):
        return None
    return pts.mean(axis=0), scale


def random_half_body(
    inst: Instance,
    rng: np.random.Generator,
    *,
    upper_ids: Sequence[int],
    lower_ids: Sequence[int],
    prob: float = 0.3,
    min_total: int = 9,
    min_upper: int = 2,
    min_lower: int = 3,
    padding: float = 1.5,
    upper_prob: float = 0.7,
) -> Instance:
    """Crop only the upper or the lower body at random (MMPose ``RandomHalfBody``, same defaults and draws).

    Counts *labelled* (finite) keypoints, as MMPose counts ``keypoints_visible > 0`` (COCO's labelled-but-occluded
    points included). With at least ``min_total`` of them, and with probability ``prob``: the upper half if it has
    ``min_upper`` labelled points and (it is preferred, probability ``upper_prob``, or the lower half has fewer
    than ``min_lower``), else the lower half if it has ``min_lower``; the region is :func:`half_body_region`.
    The crop size's aspect ratio is fixed later by :func:`affine_crop`. Otherwise the instance is returned as is.
    """
    labelled = np.isfinite(inst.keypoints).all(axis=1)
    if labelled.sum() < min_total or rng.random() > prob:
        return inst
    upper = [i for i in upper_ids if labelled[i]]
    lower = [i for i in lower_ids if labelled[i]]
    prefer_upper = rng.random() < upper_prob
    if len(upper) < min_upper and len(lower) < min_lower:
        return inst
    if len(lower) < min_lower:
        ids = upper
    elif len(upper) < min_upper:
        ids = lower
    else:
        ids = upper if prefer_upper else lower
    region = half_body_region(inst.keypoints[ids], padding=padding)
    return inst if region is None else replace(inst, center=region[0], scale=region[1])


def random_box_transform(
    inst: Instance,
    rng: np.random.Generator,
    *,
    shift_factor: float = 0.16,
    shift_prob: float = 0.3,
    scale_range: tuple[float, float] = (0.5, 1.5),
    scale_prob: float = 1.0,
    rotate_factor: float = 80.0,
    rotate_prob: float = 0.6,
) -> Instance:
    """Random shift, resize and rotation of the crop region (MMPose ``RandomBBoxTransform``, same defaults).

    Each factor is drawn from a standard normal truncated to [-1, 1] (as ``scipy.stats.truncnorm``): the centre moves
    by ``t * shift_factor * scale`` (per axis; with probability ``shift_prob``), the size is multiplied by
    ``mid + t * half_width`` of ``scale_range`` (probability ``scale_prob``), and ``t * rotate_factor`` degrees are
    added to the rotation (probability ``rotate_prob``; MMPose sets rather than adds, the same from rotation 0).
    """
    offset = _truncated_normal(rng, 2) * shift_factor
    if not rng.random() < shift_prob:
        offset = np.zeros(2)
    lo, hi = scale_range
    factor = float(_truncated_normal(rng, 1)[0]) * (hi - lo) * 0.5 + (hi + lo) * 0.5
    if not rng.random() < scale_prob:
        factor = 1.0
    angle = float(_truncated_normal(rng, 1)[0]) * rotate_factor
    if not rng.random() < rotate_prob:
        angle = 0.0
    return replace(inst, center=inst.center + offset * inst.scale, scale=inst.scale * factor,
                   rotation=inst.rotation + angle)


def affine_crop(inst: Instance, *, input_size: Sequence[int], udp: bool = False, half_pixel: bool = False) -> Crop:
    """Cut the crop region out as the model input (MMPose ``TopdownAffine``, standard or UDP).

    The region's size is first grown to the input's aspect ratio (:func:`posekit.crops.fix_aspect_ratio`); the
    image is warped with :func:`posekit.crops.warp_crops` (bilinear, zero border) and the keypoints with the same
    matrix.

    Args:
        inst: the instance; not modified.
        input_size: ``(width, height)`` of the model input.
        udp: use the UDP warp matrix (ViTPose, ``UDPHeatmap``); note its opposite rotation sense.
        half_pixel: ``True``: the exact crop of the module docstring (centre and keypoints shifted by -0.5 into
            OpenCV's frame). ``False`` (default): MMPose's arithmetic, the warp matrix of the unshifted centre
            applied to the unshifted keypoints -- the crop :class:`posekit.pipelines.topdown.TopDownEstimator` cuts
            at inference (bit for bit), with labels half a pixel (times the zoom) off the image content.

    Returns:
        :class:`Crop` with keypoints in the input frame.
    """
    w, h = (int(v) for v in input_size)
    scale = fix_aspect_ratio(inst.scale[None], aspect_ratio=w / h)
    shift = 0.5 if half_pixel else 0.0  # to OpenCV's frame: pixel centres at integers
    m = warp_matrix(inst.center[None] - shift, scale, (w, h), rotation=inst.rotation, udp=udp)
    image = warp_crops(inst.image, m, (w, h))[0]
    kpts = transform_points(inst.keypoints[None] - shift, m)[0]
    matrix = m[0].copy()
    matrix[:, 2] -= matrix[:, :2] @ np.array([shift, shift])  # the same map, taking image-frame points
    return Crop(image, kpts.astype(np.float32), inst.visible.copy(), inst.center.copy(), scale[0], inst.rotation,
                inst.flipped, matrix)


def crop_instance(image: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, box: np.ndarray, *,
                  input_size: Sequence[int], padding: float = 1.25, udp: bool = False,
                  half_pixel: bool = False) -> Crop:
    """The deterministic validation crop: ``box`` enlarged ``padding`` times, no augmentation."""
    return affine_crop(Instance.from_box(image, keypoints, visible, box, padding=padding), input_size=input_size,
                       udp=udp, half_pixel=half_pixel)


def _prob(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class AugmentOptions:
    """Settings of :class:`TopdownAugment` (the ``augment`` section of a training config).

    Defaults are MMPose 1.3.2's top-down heatmap recipes (``RandomFlip``, ``RandomHalfBody``, ``RandomBBoxTransform``
    defaults, ``GetBBoxCenterScale`` padding 1.25); photometric jitter and coarse dropout are off by default (MMPose
    uses them in the RTMPose recipes). Probabilities of 0 switch a transform off.
    """

    box_padding: float = 1.25
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_total: int = 9
    half_body_min_upper: int = 2
    half_body_min_lower: int = 3
    half_body_padding: float = 1.5
    half_body_upper_prob: float = 0.7
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_range: tuple[float, float] = (0.5, 1.5)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6
    photometric_prob: float = 0.0
    dropout_prob: float = 0.0
    dropout_size: tuple[float, float] = (0.2, 0.4)

    def __post_init__(self) -> None:
        for name in ("flip_prob", "half_body_prob", "half_body_upper_prob", "shift_prob", "scale_prob", "rotate_prob",
                     "photometric_prob", "dropout_prob"):
            _prob(name, getattr(self, name))
        for name in ("box_padding", "half_body_padding"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not (self.shift_factor >= 0 and self.rotate_factor >= 0):
            raise ValueError("shift_factor and rotate_factor must be >= 0")
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {self.scale_range!r}")
        lo, hi = self.dropout_size
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"dropout_size must be fractions (low, high) with 0 < low <= high <= 1, got "
                             f"{self.dropout_size!r}")


@dataclass(frozen=True)
class TopdownAugment:
    """The training pipeline: flip -> half-body -> box shift/scale/rotation -> affine crop -> photometric jitter ->
    coarse dropout, drawing every random number from the ``rng`` passed to each call.

    Attributes:
        input_size: model input ``(width, height)``.
        flip_indices: (K,) flip permutation of the skeleton.
        upper_ids, lower_ids: keypoint indices of the body halves (:func:`body_halves`).
        options: :class:`AugmentOptions`.
        udp: UDP crops (models trained with ``UDPHeatmap``).
        half_pixel: the crop convention of :func:`affine_crop` (default ``False`` = MMPose's, as the inference
            pipeline; see the module docstring).

    Example:
        >>> from posekit.skeletons import lsp14
        >>> aug = TopdownAugment.for_skeleton(lsp14, input_size=(192, 256))
        >>> image, kpts = np.zeros((240, 320, 3), np.uint8), np.full((14, 2), 100.0)
        >>> crop = aug(image, kpts, np.ones(14), [60, 40, 140, 200], rng=np.random.default_rng(0))
        >>> crop.image.shape, crop.keypoints.shape
        ((256, 192, 3), (14, 2))
    """

    input_size: tuple[int, int]
    flip_indices: tuple[int, ...]
    upper_ids: tuple[int, ...]
    lower_ids: tuple[int, ...]
    options: AugmentOptions = AugmentOptions()
    udp: bool = False
    half_pixel: bool = False

    def __post_init__(self) -> None:
        size = tuple(int(v) for v in self.input_size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"input_size must be (width, height) positive integers, got {self.input_size!r}")
        object.__setattr__(self, "input_size", size)
        k = len(self.flip_indices)
        for name in ("upper_ids", "lower_ids"):
            ids = tuple(int(i) for i in getattr(self, name))
            if any(not 0 <= i < k for i in ids):
                raise ValueError(f"{name} must index the {k} keypoints, got {ids}")
            object.__setattr__(self, name, ids)
        object.__setattr__(self, "flip_indices", tuple(int(i) for i in self.flip_indices))

    @classmethod
    def for_skeleton(cls, skeleton: Skeleton, *, input_size: Sequence[int], options: AugmentOptions | None = None,
                     udp: bool = False, half_pixel: bool = False) -> TopdownAugment:
        """Pipeline for ``skeleton``'s flip pairs and body halves."""
        upper, lower = body_halves(skeleton)
        return cls(tuple(input_size), skeleton.flip_indices, upper, lower, options or AugmentOptions(), udp,
                   half_pixel)

    def __call__(self, image: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, box: np.ndarray, *,
                 rng: np.random.Generator) -> Crop:
        """Augment one instance.

        Args:
            image: (H, W, C) uint8 (RGB for the photometric jitter's hue); not modified.
            keypoints: (K, 2) image frame, NaN = unlabelled.
            visible: (K,) in [0, 1].
            box: (4,) xyxy image-frame box of the person.
            rng: the only source of randomness.

        Returns:
            :class:`Crop` of ``input_size``.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        o = self.options
        inst = Instance.from_box(image, keypoints, visible, box, padding=o.box_padding)
        if inst.keypoints.shape[0] != len(self.flip_indices):
            raise ValueError(f"keypoints has {inst.keypoints.shape[0]} rows but the pipeline was built for "
                             f"{len(self.flip_indices)} keypoints")
        inst = random_flip(inst, rng, flip_indices=self.flip_indices, prob=o.flip_prob)
        inst = random_half_body(inst, rng, upper_ids=self.upper_ids, lower_ids=self.lower_ids,
                                prob=o.half_body_prob, min_total=o.half_body_min_total,
                                min_upper=o.half_body_min_upper, min_lower=o.half_body_min_lower,
                                padding=o.half_body_padding, upper_prob=o.half_body_upper_prob)
        inst = random_box_transform(inst, rng, shift_factor=o.shift_factor, shift_prob=o.shift_prob,
                                    scale_range=o.scale_range, scale_prob=o.scale_prob,
                                    rotate_factor=o.rotate_factor, rotate_prob=o.rotate_prob)
        crop = affine_crop(inst, input_size=self.input_size, udp=self.udp, half_pixel=self.half_pixel)
        out = crop.image
        if o.photometric_prob > 0 and rng.random() < o.photometric_prob:
            out = photometric_distortion(out, rng)
        holes = crop.holes
        if o.dropout_prob > 0 and rng.random() < o.dropout_prob:
            out, holes = coarse_dropout(out, rng, size_range=o.dropout_size)
        return replace(crop, image=out, holes=holes) if out is not crop.image else crop
