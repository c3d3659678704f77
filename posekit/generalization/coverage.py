"""How far one set of normalised poses covers another: k-NN coverage, domain separability, per-joint variance and
an out-of-distribution score per pose.

All functions take :class:`~posekit.generalization.posespace.PoseSet` s in the same normalised space (same joint
names and dimension; produced by :func:`~posekit.generalization.posespace.normalize_poses` with the same options).

**Distance with missing joints.** Between poses ``p`` and ``q`` of J joints, over the set ``C`` of joints present in
both: ``d(p, q) = sqrt(J / |C| * sum_{j in C} |p_j - q_j|^2)`` -- the Euclidean distance of the flattened poses,
with the squared sum rescaled by the fraction of joints present so that poses with missing joints are neither
nearer nor farther on average. ``d = inf`` when no joint is shared. Without NaNs this is the plain Euclidean
distance. Neighbours are found exactly: with ``scipy.spatial.cKDTree`` for NaN-free features of at most 10
dimensions, else by a chunked matrix-product brute force (O(N M) time, bounded memory), which is faster than a
k-d tree for the 24-36 dimensions of 12 joints in 2D/3D.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from posekit.generalization.posespace import PoseSet

_CHUNK_ELEMENTS = 4_000_000  # query rows x reference poses per block of the NaN-aware brute force (~32 MB)

_TREE_MAX_DIM = 10


def _chunk(n_ref: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(n_ref, 1))


def subsample(poses: PoseSet, n: int, *, seed: int = 0) -> PoseSet:
    """At most ``n`` poses drawn without replacement, reproducibly (``numpy.random.default_rng(seed)``), kept in
    their original order; the set itself when it has ``<= n`` poses."""
    if n < 1:
        raise ValueError(f"subsample: n must be >= 1, got {n}")
    if len(poses) <= n:
        return poses
    rows = np.sort(np.random.default_rng(seed).choice(len(poses), size=n, replace=False))
    return poses.select(rows)


def _check_pair(a: PoseSet, b: PoseSet, what: str) -> None:
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, PoseSet):
            raise TypeError(f"{what}: {name} must be a PoseSet, got {type(s).__name__}")
        if len(s) == 0:
            raise ValueError(f"{what}: pose set {name} ({s.dataset!r}) is empty")
        if not s.present.any():
            raise ValueError(f"{what}: pose set {name} ({s.dataset!r}) has no present joint at all")
    if a.joint_names != b.joint_names or a.dim != b.dim:
        raise ValueError(
            f"{what}: pose sets {a.dataset!r} and {b.dataset!r} are not in the same space: joints "
            f"{a.joint_names} ({a.dim}D) vs {b.joint_names} ({b.dim}D)"
        )


def knn_distances(query: PoseSet, ref: PoseSet, k: int = 5, *, exclude_self: bool = False) -> np.ndarray:
    """(N_query, k) ascending distances (module docstring) from each query pose to its k nearest ``ref`` poses.

    ``exclude_self=True`` (``query`` is ``ref``) leaves each pose out of its own neighbours (leave-one-out).
    Columns beyond the available neighbours are ``inf``.
    """
    _check_pair(query, ref, "knn_distances")
    if k < 1:
        raise ValueError(f"knn_distances: k must be >= 1, got {k}")
    if exclude_self and len(query) != len(ref):
        raise ValueError("knn_distances: exclude_self needs query and ref to be the same set")
    q, r = query.points.reshape(len(query), -1), ref.points.reshape(len(ref), -1)
    kk = min(k + int(exclude_self), len(ref))
    if _use_tree(q, r):
        d, i = cKDTree(r).query(q, k=kk)
        d, i = d.reshape(len(q), kk), i.reshape(len(q), kk)
        if exclude_self:
            own = i == np.arange(len(q))[:, None]
            # drop the pose itself (or, when an exact duplicate took its place, the farthest column)
            own[~own.any(axis=1), -1] = True
            d = d[~own].reshape(len(q), kk - 1)
    else:
        d = np.empty((len(q), kk - int(exclude_self)))
        step = _chunk(len(r))
        for start in range(0, len(q), step):
            block = _masked_sq_dist(query.points[start:start + step], ref.points)
            if exclude_self:
                rows = np.arange(block.shape[0])
                block[rows, start + rows] = np.inf
            part = np.partition(block, kk - 1 - int(exclude_self), axis=1)[:, : d.shape[1]]
            d[start:start + step] = np.sqrt(np.sort(part, axis=1))
    if d.shape[1] < k:
        d = np.concatenate([d, np.full((len(q), k - d.shape[1]), np.inf)], axis=1)
    return d


def _use_tree(q: np.ndarray, r: np.ndarray) -> bool:
    """k-d trees only pay off in few dimensions; above ~10 the exact matrix-product brute force is faster."""
    return q.shape[1] <= _TREE_MAX_DIM and bool(np.isfinite(q).all() and np.isfinite(r).all())


def _masked_sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Na, Nb) squared distances over shared joints, rescaled by J / |shared|; inf when nothing is shared."""
    ma, mb = np.isfinite(a).all(-1).astype(np.float64), np.isfinite(b).all(-1).astype(np.float64)
    a0 = np.where(ma[..., None] > 0, a, 0.0)
    b0 = np.where(mb[..., None] > 0, b, 0.0)
    na, nb = (a0 ** 2).sum(-1), (b0 ** 2).sum(-1)  # (Na, J), (Nb, J), zero where missing
    sq = na @ mb.T + ma @ nb.T - 2.0 * a0.reshape(len(a), -1) @ b0.reshape(len(b), -1).T
    count = ma @ mb.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.maximum(sq, 0.0) * (a.shape[1] / count)
    out[count == 0] = np.inf
    return out


@dataclass(frozen=True)
class Coverage:
    """Result of :func:`knn_coverage` (distances in the normalised pose space's unit).

    Attributes:
        coverage: fraction of A whose nearest B pose is within ``radius``.
        radius: the support radius used.
        k: neighbours used for B's own radius.
        distance_quantiles: quantile -> that quantile of A's nearest-neighbour distances to B.
        reference_quantiles: quantile -> that quantile of B's own leave-one-out nearest-neighbour distances
            (what the A -> B numbers compare with: equal when A is drawn like B).
        n_a, n_b: set sizes.
    """

    coverage: float
    radius: float
    k: int
    distance_quantiles: dict = field(default_factory=dict)
    reference_quantiles: dict = field(default_factory=dict)
    n_a: int = 0
    n_b: int = 0

    def to_dict(self) -> dict:
        """JSON-ready dict (quantile keys as strings)."""
        return {
            "coverage": self.coverage, "radius": self.radius, "k": self.k, "n_a": self.n_a, "n_b": self.n_b,
            "distance_quantiles": {str(q): v for q, v in self.distance_quantiles.items()},
            "reference_quantiles": {str(q): v for q, v in self.reference_quantiles.items()},
        }


def knn_coverage(
    a: PoseSet, b: PoseSet, *, k: int = 5, quantiles=(0.5, 0.9), radius: float | None = None,
    radius_quantile: float = 0.95,
) -> Coverage:
    """How much of A lies within B's support.

    B's support is the union of balls of ``radius`` around B's poses; by default ``radius`` is the
    ``radius_quantile`` quantile of B's own leave-one-out distance to its k-th nearest neighbour (so it adapts to
    B's density and unit). An A pose is covered when its nearest B pose is within ``radius``. A set drawn like B
    gets coverage close to 1, a disjoint one 0. Needs ``len(b) > k`` when ``radius`` is None.
    """
    _check_pair(a, b, "knn_coverage")
    qs = tuple(float(q) for q in quantiles)
    if radius is None:
        if len(b) <= k:
            raise ValueError(f"knn_coverage: B ({b.dataset!r}) has {len(b)} poses, needs more than k={k}")
        self_d = knn_distances(b, b, k, exclude_self=True)
        radius = float(np.quantile(self_d[:, k - 1], radius_quantile))
    else:
        self_d = knn_distances(b, b, 1, exclude_self=True) if len(b) > 1 else np.full((1, 1), np.inf)
    nn = knn_distances(a, b, 1)[:, 0]
    return Coverage(
        coverage=float(np.mean(nn <= radius)), radius=float(radius), k=k,
        distance_quantiles={q: float(np.quantile(nn, q)) for q in qs},
        reference_quantiles={q: float(np.quantile(self_d[:, 0], q)) for q in qs},
        n_a=len(a), n_b=len(b),
    )


@dataclass(frozen=True)
class Separability:
    """Result of :func:`domain_separability`: cross-validated accuracy of telling A from B (0.5 = chance).

    ``accuracy`` is the better of the two classifiers' mean accuracies, ``fold_accuracies`` that classifier's per
    fold; ``knn_accuracy`` and ``gaussian_accuracy`` are both means."""

    accuracy: float
    fold_accuracies: tuple[float, ...]
    n_per_set: int
    knn_accuracy: float = float("nan")
    gaussian_accuracy: float = float("nan")


def domain_separability(
    a: PoseSet, b: PoseSet, *, folds: int = 5, seed: int = 0, k: int = 5, max_per_set: int | None = 5000
) -> Separability:
    """Cross-validated accuracy of telling A's poses from B's, the better of two classifiers:

    - k-NN (majority vote of ``k`` neighbours, odd ``k`` avoids ties; NaN-aware distance of the module docstring):
      any shape of difference between *where* the sets lie, but nearly blind to a difference in *spread* (a narrow
      set inside a broad one: the broad set's nearest neighbours are mostly the dense narrow set's poses);
    - Gaussian (quadratic discriminant: one mean and covariance per set, ridge 1e-3 x mean variance, equal priors;
      missing joints filled with the fold's training mean): sees a change of spread or correlation, not
      multi-modal structure.

    The larger set is subsampled (seeded) to the smaller one's size (and both to ``max_per_set``) so chance is
    exactly 0.5; ``folds`` stratified folds from a seeded permutation. ~0.5: indistinguishable, ~1: disjoint.
    Read it with the coverage: separable sets may still cover each other (one broad, one narrow inside it).
    """
    _check_pair(a, b, "domain_separability")
    n = min(len(a), len(b), max_per_set or len(a) + len(b))
    if n < folds or folds < 2:
        raise ValueError(f"domain_separability: need folds >= 2 and at least {folds} poses per set, got {n}")
    a, b = subsample(a, n, seed=seed), subsample(b, n, seed=seed + 1)
    rng = np.random.default_rng(seed)
    fold_a, fold_b = rng.permutation(n) % folds, rng.permutation(n) % folds
    pts = np.concatenate([a.points, b.points])
    labels = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    fold = np.r_[fold_a, fold_b]
    knn, gauss = [], []
    for f in range(folds):
        test, train = fold == f, fold != f
        tr = PoseSet(pts[train], a.joint_names)
        te = PoseSet(pts[test], a.joint_names)
        votes = _knn_votes(te, tr, labels[train], min(k, len(tr)))
        knn.append(float(np.mean(votes == labels[test])))
        gauss.append(float(np.mean(_gaussian_votes(pts[test], pts[train], labels[train]) == labels[test])))
    best = knn if np.mean(knn) >= np.mean(gauss) else gauss
    return Separability(float(np.mean(best)), tuple(best), n, float(np.mean(knn)), float(np.mean(gauss)))


def _gaussian_votes(test: np.ndarray, train: np.ndarray, train_labels: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Quadratic-discriminant labels of (N, J, D) ``test`` poses from (M, J, D) ``train`` poses; NaN = missing.

    Missing joints are marginalised, never filled: each class's mean and covariance come from the pairwise-present
    training values (eigenvalues clipped at ``ridge`` x the mean variance), and a test pose is scored by the two
    classes' Gaussians restricted to the coordinates it has (and both classes have), so a joint that one dataset
    never labels cannot tell the sets apart on its own."""
    x_tr, x_te = train.reshape(len(train), -1), test.reshape(len(test), -1)
    fits = [_gaussian_fit(x_tr[train_labels == label], ridge) for label in (False, True)]
    usable = (fits[0][2] >= 2) & (fits[1][2] >= 2)
    present = np.isfinite(x_te) & usable
    out = np.zeros(len(test), dtype=bool)
    patterns, which = np.unique(present, axis=0, return_inverse=True)
    for p, cols in enumerate(patterns):
        rows = np.flatnonzero(which.reshape(-1) == p)
        if not cols.any():
            continue
        loglik = []
        for mu, cov, _ in fits:
            chol = np.linalg.cholesky(cov[np.ix_(cols, cols)])
            z = np.linalg.solve(chol, (x_te[np.ix_(rows, np.flatnonzero(cols))] - mu[cols]).T)
            loglik.append(-0.5 * (z * z).sum(axis=0) - np.log(np.diag(chol)).sum())
        out[rows] = loglik[1] > loglik[0]
    return out


def _gaussian_fit(x: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean (F,), covariance (F, F), present count (F,))`` of (M, F) rows with NaN, from pairwise-present values,
    made positive definite by clipping eigenvalues."""
    present = np.isfinite(x)
    count = present.sum(axis=0)
    mu = np.where(count > 0, np.where(present, x, 0.0).sum(axis=0) / np.maximum(count, 1), 0.0)
    xc = np.where(present, x - mu, 0.0)
    pairs = present.T.astype(np.float64) @ present
    cov = (xc.T @ xc) / np.maximum(pairs - 1, 1)
    var = np.diag(cov)[count >= 2]
    floor = ridge * max(float(var.mean()) if len(var) else 1.0, 1e-12)
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    return mu, (v * np.maximum(w, floor)) @ v.T, count


def _knn_votes(test: PoseSet, train: PoseSet, train_labels: np.ndarray, k: int) -> np.ndarray:
    """Majority label among the k nearest training poses (NaN-aware distance)."""
    out = np.empty(len(test), dtype=bool)
    q, r = test.points.reshape(len(test), -1), train.points.reshape(len(train), -1)
    if _use_tree(q, r):
        _, idx = cKDTree(r).query(q, k=k)
        idx = idx.reshape(len(q), k)
        return train_labels[idx].sum(axis=1) * 2 > k
    step = _chunk(len(train))
    for start in range(0, len(test), step):
        block = _masked_sq_dist(test.points[start:start + step], train.points)
        idx = np.argpartition(block, k - 1, axis=1)[:, :k]
        out[start:start + step] = train_labels[idx].sum(axis=1) * 2 > k
    return out


def per_joint_variance(poses: PoseSet) -> np.ndarray:
    """(J,) total variance of each joint (sum over its D coordinates of the variance over the poses where it is
    present), in squared normalised units; NaN for a joint present in fewer than 2 poses."""
    out = np.full(len(poses.joint_names), np.nan)
    present = poses.present
    for j in range(len(out)):
        x = poses.points[present[:, j], j]
        if len(x) >= 2:
            out[j] = float(x.var(axis=0, ddof=1).sum())
    return out


@dataclass(frozen=True, eq=False)
class OODScorer:
    """Out-of-distribution score of poses against a reference set (build with :meth:`fit`).

    ``score(p) = mean distance from p to its k nearest reference poses / calibration``, where ``calibration`` is
    the 95th percentile of the reference's own leave-one-out mean k-NN distances. So ~95 % of poses drawn like the
    reference score below 1.0 and scores grow with distance from the reference's support. Scoring the reference's
    own poses with :meth:`score` includes each pose as its own neighbour (lower scores); use
    ``reference_scores`` for the leave-one-out values.
    """

    reference: PoseSet
    k: int
    calibration: float
    reference_scores: np.ndarray

    @classmethod
    def fit(cls, reference: PoseSet, *, k: int = 5, quantile: float = 0.95) -> OODScorer:
        if not isinstance(reference, PoseSet):
            raise TypeError(f"OODScorer.fit: reference must be a PoseSet, got {type(reference).__name__}")
        if len(reference) <= k:
            raise ValueError(f"OODScorer.fit: reference {reference.dataset!r} has {len(reference)} poses, "
                             f"needs more than k={k}")
        loo = knn_distances(reference, reference, k, exclude_self=True).mean(axis=1)
        cal = float(np.quantile(loo[np.isfinite(loo)], quantile)) if np.isfinite(loo).any() else np.nan
        if not cal > 0:
            raise ValueError(f"OODScorer.fit: reference {reference.dataset!r} has no spread (calibration {cal})")
        return cls(reference, k, cal, loo / cal)

    def score(self, poses) -> np.ndarray:
        """(N,) scores of a PoseSet (same space as the reference) or an (N, J, D) array of normalised poses."""
        if not isinstance(poses, PoseSet):
            arr = np.asarray(poses, dtype=np.float64)
            if arr.ndim != 3 or arr.shape[1:] != self.reference.points.shape[1:]:
                raise ValueError(f"OODScorer.score: poses must have shape (N, {len(self.reference.joint_names)}, "
                                 f"{self.reference.dim}), got {arr.shape}")
            poses = PoseSet(arr, self.reference.joint_names, "query")
        if len(poses) == 0:
            return np.zeros(0)
        return knn_distances(poses, self.reference, self.k).mean(axis=1) / self.calibration

    def flag(self, poses, threshold: float = 1.0) -> np.ndarray:
        """(N,) bool: True where the score exceeds ``threshold`` (1.0 ~ the reference's 95th percentile)."""
        return self.score(poses) > threshold
