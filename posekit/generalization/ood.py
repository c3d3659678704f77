"""Out-of-distribution scores of posekit results against a reference dataset, and how such scores relate to error.

A reference model is an :class:`~posekit.generalization.coverage.OODScorer` (k-NN mean distance, calibrated so that
~95 % of the reference's own poses score below 1.0) together with the :class:`NormalizeOptions` its poses were
normalised with (:class:`OODModel`). :func:`score_poses` normalises every instance of a :class:`~posekit.types.Poses`,
of a list of per-frame ``Poses``, of a list of :class:`~posekit.types.FrameResult` s or of the ``(frame, time_s,
Poses)`` tuples :func:`posekit.lift.io.read_results_jsonl` returns, with the SAME options, and scores it: one score per
instance, NaN where the pose could not be normalised (fewer than ``min_joints`` joints above ``score_threshold``, no
hips, no torso). :func:`error_by_score` bins scores by quantile and relates them to a per-instance error (e.g. PCK).

Scores are unitless (1.0 = the reference's 95th percentile of leave-one-out k-NN distance); a pose whose skeleton
has no mapping to the common joint set (e.g. ``hand21`` results against a body reference) is a ``ValueError`` naming
both skeletons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from posekit import skeletons as sk
from posekit.generalization.coverage import OODScorer
from posekit.generalization.posespace import BODY12, PoseSet, normalize_poses
from posekit.skeletons import Skeleton

__all__ = ["NormalizeOptions", "OODModel", "PoseScores", "error_by_score", "fit_ood", "score_poses"]


@dataclass(frozen=True)
class NormalizeOptions:
    """The :func:`~posekit.generalization.posespace.normalize_poses` options shared by a reference and its queries.

    Attributes:
        target, joints: the common joint set (names of ``target``), default the 12 :data:`BODY12` limb joints.
        scale: ``"torso"``, ``"bones"`` or ``None``.
        canonicalize_lr: map a pose and its mirror image to the same point.
        min_joints: poses with fewer present joints are not scored.
        frame, up: 3D only (see ``normalize_poses``).
    """

    target: Skeleton = sk.coco17
    joints: tuple[str, ...] = BODY12
    scale: str | None = "torso"
    canonicalize_lr: bool = False
    min_joints: int = 6
    frame: str = "camera"
    up: str = "y"

    def normalize(self, keypoints, skeleton: Skeleton | None = None, *, scores=None, dataset: str = "",
                  score_threshold: float = 0.0) -> PoseSet:
        """``normalize_poses(keypoints, skeleton, scores=..., ...)`` with these options (inputs not modified)."""
        kw = {k: v for k, v in asdict(self).items() if k != "target"}
        return normalize_poses(keypoints, skeleton, scores=scores, dataset=dataset, target=self.target,
                               score_threshold=score_threshold, **kw)


@dataclass(frozen=True, eq=False)
class OODModel:
    """A fitted :class:`OODScorer` and the options its reference poses were normalised with (build: :func:`fit_ood`).

    Attributes:
        scorer: the k-NN scorer of the (concatenated) reference poses.
        options: the normalisation every query must use.
        datasets: labels of the reference sets, e.g. ``("coco",)``; ``label`` joins them with ``+``.
    """

    scorer: OODScorer
    options: NormalizeOptions
    datasets: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "+".join(d for d in self.datasets if d) or "the reference"


def fit_ood(references: PoseSet | Sequence[PoseSet], *, options: NormalizeOptions = NormalizeOptions(),
            k: int = 5, quantile: float = 0.95) -> OODModel:
    """Fit an :class:`OODModel` on one or several reference :class:`PoseSet` s normalised with ``options``
    (concatenated into one reference; their joint names must be ``options.joints``). ``k`` neighbours,
    calibration quantile ``quantile`` (see :class:`OODScorer`)."""
    sets = [references] if isinstance(references, PoseSet) else list(references)
    if not sets:
        raise ValueError("fit_ood: no reference pose set given")
    for s in sets:
        if not isinstance(s, PoseSet):
            raise TypeError(f"fit_ood: references must be PoseSets, got {type(s).__name__}")
        if s.joint_names != tuple(options.joints):
            raise ValueError(f"fit_ood: reference {s.dataset!r} has joints {s.joint_names}, but the options ask for "
                             f"{tuple(options.joints)}; normalise it with options.normalize")
        if s.dim != sets[0].dim:
            raise ValueError(f"fit_ood: reference {s.dataset!r} is {s.dim}D, {sets[0].dataset!r} is {sets[0].dim}D")
    names = tuple(s.dataset for s in sets)
    label = "+".join(n for n in names if n)
    ref = sets[0] if len(sets) == 1 else PoseSet(np.concatenate([s.points for s in sets]), sets[0].joint_names,
                                                 label, frame=sets[0].frame)
    return OODModel(OODScorer.fit(ref, k=k, quantile=quantile), options, names)


@dataclass(frozen=True)
class PoseScores:
    """Per-instance OOD scores of posekit results (``M`` instances over all frames, in input order).

    Attributes:
        scores: (M,) float64, NaN where the pose could not be normalised (too few joints / no hips / no torso).
        frame: (M,) int64 frame / image index of each instance (the list position for a plain list of Poses).
        instance: (M,) int64 instance index within its frame.
        track_id: (M,) int64, -1 when untracked.
        flagged: (M,) bool, ``score > threshold`` (False where the score is NaN).
        threshold: the flagging threshold (1.0 ~ the reference's 95th percentile).
    """

    scores: np.ndarray
    frame: np.ndarray
    instance: np.ndarray
    track_id: np.ndarray
    flagged: np.ndarray
    threshold: float

    def __len__(self) -> int:
        return len(self.scores)


def _frames(poses: Any) -> list[tuple[int, Any]]:
    """``(frame index, Poses)`` pairs from the accepted inputs (see :func:`score_poses`)."""
    if hasattr(poses, "keypoints") and hasattr(poses, "skeleton"):
        return [(0, poses)]
    if isinstance(poses, (str, bytes)) or not isinstance(poses, Sequence):
        raise TypeError(f"score_poses: poses must be a Poses, a list of Poses / FrameResults or of (frame, time_s, "
                        f"Poses) tuples, got {type(poses).__name__}")
    out = []
    for i, item in enumerate(poses):
        if hasattr(item, "keypoints") and hasattr(item, "skeleton"):
            out.append((i, item))
        elif hasattr(item, "poses") and hasattr(item, "index"):  # FrameResult
            out.append((int(item.index), item.poses))
        elif isinstance(item, tuple) and len(item) == 3 and hasattr(item[2], "keypoints"):  # read_results_jsonl
            out.append((int(item[0]), item[2]))
        else:
            raise TypeError(f"score_poses: poses[{i}] is a {type(item).__name__}, not a Poses, FrameResult or "
                            "(frame, time_s, Poses) tuple")
    return out


def score_poses(scorer: OODModel | OODScorer, poses: Any, *, threshold: float = 1.0, score_threshold: float = 0.3,
                options: NormalizeOptions | None = None, **normalize_kw: Any) -> PoseScores:
    """OOD score of every instance of ``poses`` against ``scorer``'s reference.

    Args:
        scorer: an :class:`OODModel` (its options are used), or a bare :class:`OODScorer` with the reference's
            normalisation given as ``options`` or as ``normalize_poses`` keywords (``scale=``, ``joints=``, ...).
        poses: a :class:`~posekit.types.Poses` (frame 0), a list of ``Poses`` (frame = list position), of
            :class:`~posekit.types.FrameResult` s, or of ``(frame, time_s, Poses)`` tuples
            (:func:`posekit.lift.io.read_results_jsonl`). 2D image pixels, any skeleton mapped to the common set.
        threshold: instances scoring above it are flagged.
        score_threshold: keypoints scored ``<= score_threshold`` (or NaN) are missing.

    Returns:
        :class:`PoseScores`, one row per instance in input order. Raises ``ValueError`` naming both skeletons when
        a result's skeleton has no mapping to the reference's joint set.
    """
    if isinstance(scorer, OODModel):
        if options is not None or normalize_kw:
            raise ValueError("score_poses: an OODModel carries its normalisation options; pass none")
        opts, ood = scorer.options, scorer.scorer
    elif isinstance(scorer, OODScorer):
        opts, ood = options or NormalizeOptions(**normalize_kw), scorer
        if options is not None and normalize_kw:
            raise ValueError("score_poses: give the normalisation as options or as keywords, not both")
    else:
        raise TypeError(f"score_poses: scorer must be an OODModel or OODScorer, got {type(scorer).__name__}")
    if not math.isfinite(threshold):
        raise ValueError(f"score_poses: threshold must be finite, got {threshold}")
    if tuple(opts.joints) != ood.reference.joint_names:
        raise ValueError(f"score_poses: the options' joints {tuple(opts.joints)} are not the reference's "
                         f"{ood.reference.joint_names}")
    items = _frames(poses)
    empty = [np.zeros(0, np.int64)]
    frame = np.concatenate([np.full(len(p), f, np.int64) for f, p in items] or empty)
    inst = np.concatenate([np.arange(len(p), dtype=np.int64) for _, p in items] or empty)
    track = np.concatenate([np.full(len(p), -1, np.int64) if getattr(p, "track_ids", None) is None
                            else np.asarray(p.track_ids, np.int64) for _, p in items] or empty)
    scores = np.full(len(frame), np.nan)
    offsets = np.cumsum([0] + [len(p) for _, p in items])
    groups: dict[str, list[int]] = {}
    for i, (_, p) in enumerate(items):
        if len(p):
            groups.setdefault(p.skeleton.name, []).append(i)
    for members in groups.values():  # one normalisation per skeleton (a video has one)
        skel = items[members[0]][1].skeleton
        kpts = np.concatenate([items[i][1].keypoints for i in members]).astype(np.float64)
        if kpts.shape[2] != ood.reference.dim:
            raise ValueError(f"score_poses: results are {kpts.shape[2]}D, the reference {ood.reference.dim}D")
        sc = np.concatenate([items[i][1].scores for i in members]).astype(np.float64)
        rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in members])
        normed = opts.normalize(kpts, skel, scores=sc, dataset="query", score_threshold=score_threshold)
        if len(normed):
            scores[rows[normed.indices]] = ood.score(normed)
    flagged = np.isfinite(scores) & (scores > threshold)
    return PoseScores(scores, frame, inst, track, flagged, float(threshold))


def _num(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def error_by_score(scores, errors, *, bins: int = 5) -> dict:
    """How an error measure varies with the OOD score (JSON-ready dict).

    Args:
        scores: (M,) OOD scores (NaN = not scored). errors: (M,) per-instance errors or accuracies (e.g. per-image
            PCK, mean normalised joint error); NaN = unknown. Pairs with a non-finite member are left out.
        bins: number of quantile bins: the finite pairs sorted by score and split into ``bins`` groups of
            (nearly) equal size (ties may straddle a boundary), lowest scores first.

    Returns:
        ``{"n": pairs used, "n_dropped": pairs left out, "spearman_rho", "spearman_p"`` (``scipy.stats.spearmanr``
        of score vs error; ``None`` with fewer than 3 pairs or a constant input), ``"bins": [{"bin", "n",
        "score_min", "score_max", "score_mean", "error_mean", "error_median"}, ...]}``.
    """
    s, e = np.asarray(scores, np.float64).ravel(), np.asarray(errors, np.float64).ravel()
    if s.shape != e.shape:
        raise ValueError(f"error_by_score: scores {s.shape} and errors {e.shape} must have the same length")
    if int(bins) < 1:
        raise ValueError(f"error_by_score: bins must be >= 1, got {bins}")
    ok = np.isfinite(s) & np.isfinite(e)
    s, e = s[ok], e[ok]
    rho = p = None
    if len(s) >= 3 and np.ptp(s) > 0 and np.ptp(e) > 0:
        res = spearmanr(s, e)
        rho, p = _num(res.statistic), _num(res.pvalue)
    order = np.argsort(s, kind="stable")
    out_bins = []
    for b, idx in enumerate(np.array_split(order, min(int(bins), max(len(s), 1)))):
        if len(idx) == 0:
            continue
        out_bins.append({"bin": b, "n": len(idx), "score_min": _num(s[idx].min()),
                         "score_max": _num(s[idx].max()), "score_mean": _num(s[idx].mean()),
                         "error_mean": _num(e[idx].mean()), "error_median": _num(np.median(e[idx]))})
    return {"n": len(s), "n_dropped": int((~ok).sum()), "spearman_rho": rho, "spearman_p": p,
            "bins": out_bins}
