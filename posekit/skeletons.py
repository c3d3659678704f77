"""Keypoint skeletons: names, links, flip pairs, OKS sigmas and colours, plus mappings between them.

A :class:`Skeleton` is plain data. Keypoint index ``k`` of an ``(N, K, 2)`` array refers to
``skeleton.keypoints[k]``. Links and flip pairs are index pairs into that tuple.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    Attributes:
        name: short identifier, e.g. ``"coco17"``.
        keypoints: K keypoint names in model output order.
        links: pairs ``(i, j)`` of keypoint indices drawn as limbs.
        flip_pairs: pairs ``(left, right)`` swapped by a horizontal flip (each unordered pair once).
        sigmas: K per-keypoint OKS sigmas (COCO convention), or ``None`` when undefined.
        link_colors: one RGB colour per link (defaults to a palette).
        keypoint_colors: one RGB colour per keypoint (defaults to a palette).
    """

    name: str
    keypoints: tuple[str, ...]
    links: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None
    link_colors: tuple[Color, ...] = field(default=(), repr=False)
    keypoint_colors: tuple[Color, ...] = field(default=(), repr=False)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def flip_indices(self) -> tuple[int, ...]:
        """Permutation ``p`` with ``flipped[k] = original[p[k]]`` (an involution)."""
        idx = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return tuple(idx)

    def index(self, name: str) -> int:
        """Index of keypoint ``name``; raises ``KeyError`` naming the skeleton when absent."""
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no keypoint {name!r}") from None

    def sigmas_array(self) -> np.ndarray:
        """(K,) float64 OKS sigmas; raises ``ValueError`` when the skeleton defines none."""
        if self.sigmas is None:
            raise ValueError(f"skeleton {self.name!r} defines no OKS sigmas")
        return np.asarray(self.sigmas, dtype=np.float64)
