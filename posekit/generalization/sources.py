"""Pose sources for the dataset map: any file or folder posekit reads -> raw poses -> a normalised :class:`PoseSet`.

Every kind reuses posekit's own loader; no image file is opened or checked. Kinds (:data:`SOURCE_KINDS`):

* ``coco``: COCO-format keypoint JSON (:func:`~posekit.data.load_coco_keypoints`; ``v = 0`` -> missing, crowd
  annotations skipped), the file's skeleton.
* ``posetrack18``: a PoseTrack18 JSON or folder of per-video JSONs (:func:`~posekit.data.load_posetrack18`),
  ``posetrack18`` (COCO's points with the eyes replaced by ``head_bottom`` / ``head_top``; its limb joints reach
  ``coco17`` through :data:`posekit.skeletons.POSETRACK18_TO_COCO17`).
* ``mpii``: ``hg_valid.h5`` (:func:`~posekit.data.load_mpii`) or a deeppose CSV
  (:func:`~posekit.data.load_mpii_csv`; ``(-1, -1)`` = unlabelled -> NaN), ``mpii16``.
* ``lsp`` / ``lspet``: ``joints.mat`` or its folder (:func:`~posekit.data.load_lsp`), every annotation (LSP: all
  2000, occluded joints are labelled so present; LSPET: all 10000 whether or not the image is here, flag 0 ->
  missing), ``lsp14``.
* ``results``: a COCO keypoint results list (``posekit predict --out``, :func:`~posekit.io.coco.read_coco_results`;
  skeleton from the keypoint count: 17 ``coco17``, 33 ``blazepose33``, else an error; score 0 = missing) or
  ``posekit video --json`` JSON lines (:func:`~posekit.lift.io.read_results_jsonl`; every instance of every frame).
* ``cmu``: the CMU mocap folder (``cmu_asf_amc.tar.xz``) through :func:`~posekit.lift.data.load_cmu_clips`
  (h36m17 world mm, Y up, 120 fps, converted once and cached in ``$POSEKIT_HOME/mocap``; once written, that cache
  is read whatever folder is named).
* ``h36m_npz``: VideoPose3D ``data_3d_h36m.npz`` (:func:`~posekit.data.h36m.load_h36m_3d`: h36m17 mm, Z up,
  50 fps), turned to the mocap's Y-up world by :data:`~posekit.data.h36m.H36M_TO_Y_UP`.

3D sources (``cmu``, ``h36m_npz``):

* **Frames.** ``stride`` is a step at 120 fps (12 -> 10 fps); a source at another rate takes the step that gives
  the same rate, ``max(1, round(stride * fps / 120))`` (H3.6M at 50 fps: stride 12 -> step 5 -> 10 fps). The
  subsampled frames of each clip start at its first frame.
* **Virtual cameras.** Each clip is cut into windows of :data:`FRAMES_PER_CAMERA` subsampled frames (1 s at
  stride 12) and each window is seen by its own random camera of the lifting's evaluation set
  (:data:`posekit.lift.train.EVAL_CAMERAS`: realistic fields of view and image sizes, 3-7 m away, elevation -10 to
  30 deg, the person 4-18 deg off the optical axis and inside the image), drawn by
  :meth:`~posekit.threed.pairs.VirtualCameras.sample` from ``numpy.random.default_rng(seed)`` in clip order
  (sorted ids) then window order: the same source, stride and seed give the same cameras. A window that travels
  too far for the camera ranges gets the distance range pushed back by its extent (as lifter training does).
* ``dim=2``: pixels of those cameras (:func:`~posekit.threed.pairs.project_pairs`), ``frame="image"``.
* ``dim=3`` (``frame3d="world"``): world mm, Y up (``up="y"``). ``frame3d="camera"``: the *same* cameras' OpenCV
  frame (x right, y down, z forward, mm), i.e. what that camera sees; :func:`load_pose_set` uses it for
  ``frame="camera"`` and the world frame for ``frame="body"`` (yaw about the vertical removed: hips along ``+x``,
  Y up).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import scipy.io

from posekit import skeletons as sk
from posekit.data import (
    load_coco_keypoints,
    load_lsp,
    load_mpii,
    load_mpii_csv,
    load_posetrack18,
)
from posekit.data.h36m import H36M_FPS, H36M_TO_Y_UP, load_h36m_3d
from posekit.generalization.posespace import BODY12, PoseSet, normalize_poses
from posekit.generalization.sourcespec import (
    CMU_ARCHIVE,
    KINDS_3D,
    SOURCE_KINDS,
    PoseSource,
    detect_kind,
    parse_source,
)
from posekit.io.coco import read_coco_results
from posekit.lift.data import load_cmu_clips
from posekit.lift.io import read_results_jsonl
from posekit.lift.train import EVAL_CAMERAS
from posekit.skeletons import Skeleton
from posekit.threed.pairs import project_pairs

__all__ = ["FRAMES_PER_CAMERA", "RESULT_SKELETONS", "SOURCE_KINDS", "CocoResults", "PoseSource", "RawPoses",
           "detect_kind", "is_coco_results_list", "load_pose_set", "load_raw", "parse_source",
           "read_coco_results_arrays"]

FRAMES_PER_CAMERA = 10
"""Subsampled frames of a 3D clip seen by one virtual camera (module docstring)."""
MOCAP_FPS = 120.0
RESULT_SKELETONS: Mapping[int, Skeleton] = MappingProxyType({s.num_keypoints: s for s in (
    sk.coco17, sk.blazepose33, sk.hand21, sk.lsp14, sk.mpii16, sk.coco_wholebody133)})
"""The skeleton of a COCO results list by its keypoint count (a results list does not name its skeleton)."""
_LIST_SKELETONS = MappingProxyType({17: sk.coco17, 33: sk.blazepose33})
"""The body skeletons a pose source reads from a results list (another count is refused while reading)."""


@dataclass(frozen=True, eq=False)
class RawPoses:
    """Poses of one source as read, before normalisation.

    Attributes:
        name, kind: of the :class:`PoseSource`.
        skeleton: layout of ``keypoints``.
        keypoints: (N, K, D) float64; D = 2: image pixels (x right, y down); D = 3: millimetres in ``frame``.
            NaN = missing (unlabelled, ``v = 0``, or a result keypoint with score 0).
        scores: (N, K) float64 confidences of a results file (a joint with score <= 0 is missing, as
            :func:`~posekit.generalization.posespace.normalize_poses` reads them), ``None`` for annotations and
            mocap (their missing joints are NaN; occluded but labelled joints are present).
        frame: ``"image"`` (2D px), ``"world"`` (3D, vertical axis ``up``) or ``"camera"`` (3D OpenCV camera frame).
        up: the vertical axis of 3D points, ``"y"`` or ``"z"`` (``"y"`` for 2D).
        groups: (N,) int64, index into ``group_labels`` of each pose's image / frame / clip (e.g. to subsample
            whole images or clips), or ``None``.
        group_labels: the labels ``groups`` index (image ids, clip ids, ... as strings).
    """

    name: str
    kind: str
    skeleton: Skeleton
    keypoints: np.ndarray
    scores: np.ndarray | None
    frame: str
    up: str = "y"
    groups: np.ndarray | None = None
    group_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kp = np.array(self.keypoints, dtype=np.float64)
        k = self.skeleton.num_keypoints
        if kp.ndim != 3 or kp.shape[1] != k or kp.shape[2] not in (2, 3):
            raise ValueError(f"RawPoses {self.name!r}: keypoints must have shape (N, {k}, 2 or 3) for skeleton "
                             f"{self.skeleton.name!r}, got {kp.shape}")
        if self.frame not in ("image", "world", "camera") or (self.frame == "image") != (kp.shape[2] == 2):
            raise ValueError(f"RawPoses {self.name!r}: frame {self.frame!r} does not fit {kp.shape[2]}D keypoints")
        if self.up not in ("y", "z"):
            raise ValueError(f"RawPoses {self.name!r}: up must be 'y' or 'z', got {self.up!r}")
        kp[~np.isfinite(kp).all(axis=2)] = np.nan
        arrays = {"keypoints": kp}
        if self.scores is not None:
            sc = np.array(self.scores, dtype=np.float64)
            if sc.shape != kp.shape[:2]:
                raise ValueError(f"RawPoses {self.name!r}: scores must have shape {kp.shape[:2]}, got {sc.shape}")
            arrays["scores"] = sc
        if self.groups is not None:
            g = np.array(self.groups, dtype=np.int64)
            if g.shape != (len(kp),) or (len(g) and (g.min() < 0 or g.max() >= len(self.group_labels))):
                raise ValueError(f"RawPoses {self.name!r}: groups must be ({len(kp)},) indices into "
                                 f"{len(self.group_labels)} group labels, got shape {g.shape}")
            arrays["groups"] = g
        for key, arr in arrays.items():
            arr.flags.writeable = False
            object.__setattr__(self, key, arr)
        object.__setattr__(self, "group_labels", tuple(str(v) for v in self.group_labels))

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    @property
    def dim(self) -> int:
        return self.keypoints.shape[2]


# ------------------------------------------------------------------------------------------------ specs and kinds


def load_raw(source: PoseSource, *, dim: int = 2, stride: int = 12, seed: int = 0,
             frame3d: str = "world") -> RawPoses:
    """Read ``source`` into :class:`RawPoses` (per-kind details in the module docstring).

    Args:
        dim: 2 (image pixels) or 3 (3D sources only; a 2D source raises ``ValueError`` naming it).
        stride: 3D sources: frame step at 120 fps (module docstring); ignored by 2D sources.
        seed: 3D sources: seed of the virtual cameras (2D projection and ``frame3d="camera"``).
        frame3d: ``dim=3``: ``"world"`` (Y up, mm) or ``"camera"`` (the seeded virtual cameras' frame, y down).

    Raises:
        FileNotFoundError: the path (or a file the kind needs) does not exist.
        ValueError: bad arguments, unreadable or empty data; the message names the source.
    """
    where = f"pose source {source.name!r} ({source.kind}, {str(source.path)!r})"
    if dim not in (2, 3):
        raise ValueError(f"{where}: dim must be 2 or 3, got {dim!r}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"{where}: stride must be a positive integer, got {stride!r}")
    if frame3d not in ("world", "camera"):
        raise ValueError(f"{where}: frame3d must be 'world' or 'camera', got {frame3d!r}")
    if not source.path.exists():
        raise FileNotFoundError(f"{where}: the path does not exist")
    if source.kind in KINDS_3D:
        clips = _cmu_clips(source, int(stride)) if source.kind == "cmu" else _h36m_clips(source, int(stride))
        raw = _raw_3d(source, clips, dim, seed, frame3d)
    elif dim == 3:
        raise ValueError(f"{where} holds 2D poses; dim=3 needs a 3D source ({', '.join(KINDS_3D)})")
    elif source.kind == "results":
        raw = _raw_results(source)
    else:
        raw = _raw_annotations(source)
    if len(raw) == 0:
        raise ValueError(f"{where}: no poses")
    return raw


def load_pose_set(source: PoseSource, *, dim: int = 2, frame: str = "camera", scale: str | None = "torso",
                  canonicalize_lr: bool = False, min_joints: int = 6, stride: int = 12, seed: int = 0) -> PoseSet:
    """:func:`load_raw` then :func:`~posekit.generalization.posespace.normalize_poses` (``dataset=source.name``,
    the :data:`~posekit.generalization.posespace.BODY12` joints of ``coco17``).

    ``frame`` (3D only): ``"camera"`` -> the seeded virtual cameras' frame, ``"body"`` -> the Y-up world with the
    yaw removed (hips along ``+x``). Raises ``ValueError`` naming the source when every pose is dropped; a skeleton
    without the common joints raises ``normalize_poses``' error naming both skeletons.
    """
    if frame not in ("camera", "body"):
        raise ValueError(f"frame must be 'camera' or 'body', got {frame!r}")
    raw = load_raw(source, dim=dim, stride=stride, seed=seed, frame3d="camera" if frame == "camera" else "world")
    kwargs = {"scores": raw.scores, "dataset": source.name, "frame": frame, "up": raw.up}
    poses = normalize_poses(raw.keypoints, raw.skeleton, scale=scale, canonicalize_lr=canonicalize_lr,
                            min_joints=min_joints, **kwargs)
    if len(poses) == 0:
        hips = normalize_poses(raw.keypoints, raw.skeleton, scale=None, min_joints=0, **kwargs)
        few = int((hips.present.sum(axis=1) < min_joints).sum())
        rest = len(hips) - few
        why = [f"{len(raw) - len(hips)} lack a hip", f"{few} have fewer than {min_joints} present joints"]
        if rest:
            why.append(f"{rest} have no usable scale reference (scale={scale!r})")
        raise ValueError(f"all {len(raw)} poses of {source.name!r} ({str(source.path)!r}) were dropped: "
                         f"{', '.join(why)} (of the {len(BODY12)} common joints)")
    return poses


def _groups(labels: Sequence) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N,) int64 codes in order of first appearance, and the labels as strings."""
    codes: dict[str, int] = {}
    out = np.array([codes.setdefault(str(v), len(codes)) for v in labels], dtype=np.int64)
    return out, tuple(codes)


def _raw_annotations(source: PoseSource) -> RawPoses:
    path, kind = source.path, source.kind
    if kind == "coco":
        samples, report = load_coco_keypoints(path)
        samples = [s for s in samples if not s.meta.get("iscrowd")]
    elif kind == "posetrack18":
        samples, report = load_posetrack18(path)
    elif kind == "mpii":
        loader = load_mpii if path.suffix.lower() in (".h5", ".hdf5") else load_mpii_csv
        samples, report = loader(path)
    else:  # lsp, lspet: every annotation, no image check
        mat = path / "joints.mat" if path.is_dir() else path
        if mat.name != "joints.mat":
            raise ValueError(f"pose source {source.name!r} ({kind}): expected a joints.mat file or its folder, "
                             f"got {str(path)!r}")
        n = scipy.io.whosmat(str(mat))
        count = next((shape[2] for name, shape, _ in n if name == "joints" and len(shape) == 3), 0)
        samples, report = load_lsp(mat.parent, indices=range(count), extended=kind == "lspet", check_images=False)
    if not samples:
        raise ValueError(f"pose source {source.name!r} ({kind}, {str(path)!r}): no poses loaded "
                         f"({report.num_records} records, {len(report.skipped)} skipped)")
    skeleton = samples[0].skeleton
    kpts = np.stack([s.keypoints for s in samples]).astype(np.float64)
    groups, labels = _groups([s.image_id for s in samples])
    return RawPoses(source.name, kind, skeleton, kpts, None, "image", groups=groups, group_labels=labels)


def is_coco_results_list(path: str | os.PathLike) -> bool:
    """Whether a results file is a COCO keypoint results list (``posekit predict --out``: a JSON list) rather than
    ``posekit video --json`` JSON lines (``.jsonl``, or anything not starting with ``[``)."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
    return path.suffix.lower() != ".jsonl" and head.startswith("[")


@dataclass(frozen=True, eq=False)
class CocoResults:
    """A COCO keypoint results list as arrays (N results, in file order): ``image_ids`` (N,), ``keypoints`` (N, K, 2)
    float64 image pixels, ``scores`` (N, K) float64 (0 = missing), ``boxes`` (N, 4) xyxy pixels (zeros when a
    record has no ``bbox``), ``track_ids`` (N,) list (``None`` where a record has none), ``skeleton``."""

    image_ids: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    track_ids: list
    skeleton: Skeleton | None


def read_coco_results_arrays(path: str | os.PathLike, *, skeleton: Skeleton | None = None,
                             by_count: Mapping[int, Skeleton] = RESULT_SKELETONS) -> CocoResults:
    """:func:`~posekit.io.coco.read_coco_results` as :class:`CocoResults`. A results list does not name its
    skeleton: ``skeleton`` if given (its keypoint count must match), else the one of ``by_count`` with the records'
    keypoint count; ``ValueError`` naming the file otherwise, or when records differ in keypoint count. An empty list
    gives N = 0 and ``skeleton`` as given."""
    path = Path(path)
    records = read_coco_results(path)
    if not records:
        return CocoResults(np.zeros(0, np.int64), np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 4)), [],
                           skeleton)
    counts = sorted({len(r["keypoints"]) // 3 for r in records})
    if len(counts) > 1:
        raise ValueError(f"results file {str(path)!r}: records have different keypoint counts {counts}")
    k = counts[0]
    if skeleton is not None and skeleton.num_keypoints != k:
        raise ValueError(f"results file {str(path)!r}: {k} keypoints per result, but skeleton {skeleton.name} has "
                         f"{skeleton.num_keypoints}")
    if skeleton is None and k not in by_count:
        known = ", ".join(f"{n} ({s.name})" for n, s in by_count.items())
        raise ValueError(f"results file {str(path)!r}: {k} keypoints per result; the skeleton of a COCO results "
                         f"list is known only from the count: {known}, or name it")
    arr = np.array([r["keypoints"] for r in records], dtype=np.float64).reshape(len(records), k, 3)
    boxes = np.array([r.get("bbox", [0, 0, 0, 0]) for r in records], np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return CocoResults(np.array([r["image_id"] for r in records]), arr[..., :2].copy(), arr[..., 2].copy(), boxes,
                       [r.get("track_id") for r in records], skeleton or by_count[k])


def _raw_results(source: PoseSource) -> RawPoses:
    if not is_coco_results_list(source.path):
        return _jsonl_results(source)
    res = read_coco_results_arrays(source.path, by_count=_LIST_SKELETONS)
    if not len(res.image_ids):
        raise ValueError(f"results file {str(source.path)!r} of pose source {source.name!r} holds no results")
    kpts = res.keypoints.copy()
    kpts[~(res.scores > 0)] = np.nan  # written as 0, 0, 0 when missing
    groups, labels = _groups(res.image_ids.tolist())
    return RawPoses(source.name, "results", res.skeleton, kpts, res.scores, "image", groups=groups,
                    group_labels=labels)


def _jsonl_results(source: PoseSource) -> RawPoses:
    path = source.path
    frames, errors = read_results_jsonl(path)
    if errors:
        raise ValueError(f"results file {str(path)!r}: {len(errors)} bad line(s), first: {errors[0]}")
    names = sorted({p.skeleton.name for _, _, p in frames})
    if len(names) > 1:
        raise ValueError(f"results file {str(path)!r} mixes skeletons {names}")
    frames = [(i, p) for i, _, p in frames if len(p)]
    if not frames:
        raise ValueError(f"results file {str(path)!r} of pose source {source.name!r} holds no poses")
    kpts = np.concatenate([p.keypoints[..., :2] for _, p in frames]).astype(np.float64)
    scores = np.concatenate([p.scores for _, p in frames]).astype(np.float64)
    kpts[~(scores > 0)] = np.nan
    groups, labels = _groups([i for i, p in frames for _ in range(len(p))])
    return RawPoses(source.name, "results", frames[0][1].skeleton, kpts, scores, "image", groups=groups,
                    group_labels=labels)


def _cmu_clips(source: PoseSource, stride: int) -> list[tuple[str, np.ndarray]]:
    folder = source.path.parent if source.path.is_file() else source.path
    if not (folder / CMU_ARCHIVE).is_file():
        raise FileNotFoundError(f"pose source {source.name!r} (cmu): {str(folder / CMU_ARCHIVE)!r} not found")
    clips = load_cmu_clips(mocap_dir=folder)
    return [(cid, np.asarray(clips[cid][::stride], dtype=np.float64)) for cid in sorted(clips) if source.keeps(cid)]


def _h36m_clips(source: PoseSource, stride: int) -> list[tuple[str, np.ndarray]]:
    data = load_h36m_3d(source.path)
    step = max(1, round(stride * H36M_FPS / MOCAP_FPS))
    return [(f"{s}/{a}", data[s][a][::step] @ H36M_TO_Y_UP.T) for s in sorted(data) for a in sorted(data[s])
            if source.keeps(f"{s}/{a}")]


def _raw_3d(source: PoseSource, clips: list[tuple[str, np.ndarray]], dim: int, seed: int, frame3d: str) -> RawPoses:
    clips = [(c, j) for c, j in clips if len(j)]
    if not clips:
        raise ValueError(f"pose source {source.name!r} ({source.kind}, {str(source.path)!r}): no frames")
    groups = np.repeat(np.arange(len(clips)), [len(j) for _, j in clips])
    labels = tuple(c for c, _ in clips)
    if dim == 3 and frame3d == "world":
        kpts, frame = np.concatenate([j for _, j in clips]), "world"
    else:
        pixels, camera = _camera_views(clips, seed)
        kpts, frame = (pixels, "image") if dim == 2 else (camera, "camera")
    return RawPoses(source.name, source.kind, sk.h36m17, kpts, None, frame, "y", groups, labels)


def _camera_views(clips: list[tuple[str, np.ndarray]], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2) pixels and (N, 17, 3) camera-frame mm of Y-up world clips, one virtual camera per window."""
    rng = np.random.default_rng(seed)
    pixels, camera = [], []
    for clip, joints in clips:
        for start in range(0, len(joints), FRAMES_PER_CAMERA):
            window = joints[start:start + FRAMES_PER_CAMERA]
            pair = project_pairs(window, EVAL_CAMERAS.sample_backed_off(rng, window), clip=clip)
            pixels.append(pair.keypoints2d_clean)
            camera.append(pair.joints3d + pair.root3d[:, None])
    return np.concatenate(pixels), np.concatenate(camera)
