"""Explicit keypoint correspondences between two skeletons (:class:`KeypointMapping`).

The mapping constants and :func:`posekit.skeletons.mapping` live in :mod:`posekit.skeletons`, which re-exports this
class; a mapping pairs only joints that are the same anatomical point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: skeletons.py imports this module
    from posekit.skeletons import Skeleton

__all__ = ["KeypointMapping"]


@dataclass(frozen=True)
class KeypointMapping:
    """Explicit correspondence from ``source`` keypoints to ``target`` keypoints.

    Attributes:
        source, target: the skeletons.
        pairs: ``(source_index, target_index)`` pairs; each target index at most once. Target keypoints not
            listed have no source and come out missing.
    """

    source: Skeleton
    target: Skeleton
    pairs: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        pairs = tuple((int(s), int(d)) for s, d in self.pairs)
        ks, kd = self.source.num_keypoints, self.target.num_keypoints
        for s, d in pairs:
            if not (0 <= s < ks and 0 <= d < kd):
                raise ValueError(
                    f"mapping {self.source.name!r} -> {self.target.name!r}: pair ({s}, {d}) out of range "
                    f"for K_src={ks}, K_dst={kd}"
                )
        targets = [d for _, d in pairs]
        if len(set(targets)) != len(targets):
            raise ValueError(f"mapping {self.source.name!r} -> {self.target.name!r}: a target index repeats")
        object.__setattr__(self, "pairs", pairs)

    @property
    def named_pairs(self) -> tuple[tuple[str, str], ...]:
        """The pairs as ``(source name, target name)``."""
        return tuple((self.source.keypoints[s], self.target.keypoints[d]) for s, d in self.pairs)

    def then(self, other: KeypointMapping) -> KeypointMapping:
        """The composed mapping ``self.source -> other.target`` (``other.source`` must be ``self.target``)."""
        if other.source != self.target:
            raise ValueError(
                f"cannot compose {self.source.name!r} -> {self.target.name!r} with "
                f"{other.source.name!r} -> {other.target.name!r}"
            )
        via = {m: s for s, m in self.pairs}
        return KeypointMapping(self.source, other.target, tuple((via[m], d) for m, d in other.pairs if m in via))

    def apply(
        self, keypoints: np.ndarray, scores: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Re-index keypoints (and scores) from the source to the target skeleton.

        Args:
            keypoints: (..., K_src, C) array (any C: 2D pixels, 3D, with or without extra channels); not modified.
            scores: optional (..., K_src) array matching ``keypoints``' leading shape; not modified.

        Returns:
            ``(keypoints, scores)``: new (..., K_dst, C) array of dtype ``result_type(keypoints.dtype, float32)``
            with NaN where a target keypoint has no source, and new (..., K_dst) scores with 0 there (``None``
            when ``scores`` is ``None``).
        """
        kpts = np.asarray(keypoints)
        ks, kd = self.source.num_keypoints, self.target.num_keypoints
        if kpts.ndim < 2 or kpts.shape[-2] != ks:
            raise ValueError(
                f"keypoints must have shape (..., {ks}, C) for skeleton {self.source.name!r}, got {kpts.shape}"
            )
        src = np.array([s for s, _ in self.pairs], dtype=np.intp)
        dst = np.array([d for _, d in self.pairs], dtype=np.intp)
        out = np.full(kpts.shape[:-2] + (kd, kpts.shape[-1]), np.nan, dtype=np.result_type(kpts.dtype, np.float32))
        out[..., dst, :] = kpts[..., src, :]
        if scores is None:
            return out, None
        sc = np.asarray(scores)
        if sc.shape != kpts.shape[:-1]:
            raise ValueError(
                f"scores must have shape {kpts.shape[:-1]} (..., {ks}) to match keypoints, got {sc.shape}"
            )
        out_scores = np.zeros(sc.shape[:-1] + (kd,), dtype=np.result_type(sc.dtype, np.float32))
        out_scores[..., dst] = sc[..., src]
        return out, out_scores
