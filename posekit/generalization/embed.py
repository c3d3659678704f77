"""2D embeddings of normalised pose sets (UMAP or PCA) for the pose-space dataset map, saved with dataset ids.

Input: :class:`~posekit.generalization.posespace.PoseSet` s in one normalised space (same joint names and
dimension, from :func:`~posekit.generalization.posespace.normalize_poses` with the same options). Each pose becomes
one feature row (:func:`stack_features`: the flattened root-relative, scale-normalised joints, joint-major).

**Missing joints** are filled with the *pooled* mean of that coordinate over all sets together (the sets are
concatenated and passed to :func:`~posekit.generalization.posespace.flatten`). UMAP and PCA need complete rows;
filling is the explicit, documented price: a pose with missing joints is pulled toward the pooled mean pose, so
heavily occluded poses drift to the middle of the map. The pooled (not per-set) mean is used so that a dataset's
fill does not carry its own identity into the map: with per-set means, missing joints alone would separate the
datasets. The coverage numbers (:mod:`posekit.generalization.coverage`) use NaN-aware distances and need no fill.

**Methods.** ``"umap"`` (``umap-learn``, the optional extra ``posekit[map]``): a seeded fit is reproducible (UMAP then
runs single-threaded); ``seed=None`` runs in parallel, faster but not reproducible. ``"pca"``: NumPy SVD of the
centred features, the two leading components with a deterministic sign (each component's largest-magnitude
loading is positive); the explained variance ratios, mean and components are kept in ``params`` so new poses can be
projected (``(x - mean) @ components.T``).
"""

from __future__ import annotations

import csv
import io
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.generalization.coverage import subsample
from posekit.generalization.posespace import PoseSet, flatten
from posekit.io.atomic import atomic_writer

METHODS: tuple[str, ...] = ("umap", "pca")

_UMAP_MISSING = "UMAP needs umap-learn: pip install 'posekit[map]' (or method='pca')"


@dataclass(frozen=True, eq=False)
class Embedding:
    """A 2D embedding of pose sets.

    Attributes:
        coords: (N, 2) float64 embedding coordinates (unitless; PCA: normalised pose units).
        dataset_ids: (N,) int64 index into ``datasets`` of each point.
        datasets: dataset names, in input order.
        source_rows: (N,) int64 ``PoseSet.indices`` of each point (its row in the dataset as loaded).
        method: ``"umap"`` or ``"pca"``.
        params: JSON-able settings and facts: seed, n_neighbors, min_dist, fill, n per set, explained variance
            (PCA), time, ...
    """

    coords: np.ndarray
    dataset_ids: np.ndarray
    datasets: tuple[str, ...]
    source_rows: np.ndarray
    method: str
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        coords = np.array(self.coords, dtype=np.float64)
        if coords.size == 0:
            coords = coords.reshape(0, 2)
        ids = np.array(self.dataset_ids, dtype=np.int64)
        rows = np.array(self.source_rows, dtype=np.int64)
        names = tuple(str(d) for d in self.datasets)
        n = len(coords)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"Embedding: coords must have shape (N, 2), got {coords.shape}")
        if ids.shape != (n,) or rows.shape != (n,):
            raise ValueError(f"Embedding: dataset_ids and source_rows must have shape ({n},), got {ids.shape} "
                             f"and {rows.shape}")
        if n and (ids.min() < 0 or ids.max() >= len(names)):
            raise ValueError(f"Embedding: dataset_ids must lie in [0, {len(names)}), got {ids.min()}..{ids.max()}")
        for a in (coords, ids, rows):
            a.flags.writeable = False
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "dataset_ids", ids)
        object.__setattr__(self, "source_rows", rows)
        object.__setattr__(self, "datasets", names)
        object.__setattr__(self, "params", dict(self.params))

    def __len__(self) -> int:
        return len(self.coords)

    def counts(self) -> dict[str, int]:
        """Points per dataset (in ``datasets`` order)."""
        c = np.bincount(self.dataset_ids, minlength=len(self.datasets))
        return {name: int(c[i]) for i, name in enumerate(self.datasets)}


def _check_sets(sets: Sequence[PoseSet], what: str) -> list[PoseSet]:
    sets = list(sets)
    if not sets:
        raise ValueError(f"{what}: no pose sets given")
    for i, s in enumerate(sets):
        if not isinstance(s, PoseSet):
            raise TypeError(f"{what}: item {i} must be a PoseSet, got {type(s).__name__}")
    first = sets[0]
    for s in sets[1:]:
        if s.joint_names != first.joint_names or s.dim != first.dim:
            raise ValueError(
                f"{what}: pose sets {first.dataset!r} and {s.dataset!r} are not in the same space: joints "
                f"{first.joint_names} ({first.dim}D) vs {s.joint_names} ({s.dim}D); normalise both with the same "
                f"joints and dimension"
            )
    names = [s.dataset for s in sets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{what}: dataset names must be unique (they label the map), repeated: {dup}")
    return sets


def stack_features(sets: Sequence[PoseSet], *, fill: str = "mean") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of several pose sets stacked in input order.

    Args:
        sets: PoseSets sharing ``joint_names`` and ``dim`` (``ValueError`` naming the two datasets otherwise).
        fill: ``"mean"``: a missing coordinate becomes the pooled mean of that coordinate over all sets (module
            docstring: it biases such poses toward the mean pose); ``"zero"``: the root (origin).

    Returns:
        ``X`` (N, J*D) float64 finite features (joint-major: x0, y0, [z0], x1, ...), ``dataset_ids`` (N,) int64
        index of each row's set, ``source_rows`` (N,) int64 ``PoseSet.indices`` of each row.
    """
    sets = _check_sets(sets, "stack_features")
    if fill not in ("mean", "zero"):
        raise ValueError(f"stack_features: fill must be 'mean' or 'zero' (embeddings need finite rows), got {fill!r}")
    first = sets[0]
    pooled = PoseSet(np.concatenate([s.points for s in sets]), first.joint_names, "pooled")
    x = flatten(pooled, fill=fill)
    ids = np.repeat(np.arange(len(sets), dtype=np.int64), [len(s) for s in sets])
    rows = np.concatenate([s.indices for s in sets]).astype(np.int64)
    return x, ids, rows


def embed(
    sets: Sequence[PoseSet],
    *,
    method: str = "umap",
    seed: int | None = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    max_per_set: int | None = None,
    fill: str = "mean",
) -> Embedding:
    """Embed pose sets in 2D (module docstring).

    Args:
        sets: PoseSets in one normalised space, with unique ``dataset`` names.
        method: ``"umap"`` or ``"pca"``.
        seed: UMAP ``random_state`` (``None``: parallel, faster, not reproducible) and the seed of the per-set
            subsample (0 when ``None``, so the chosen poses stay reproducible).
        n_neighbors, min_dist: UMAP settings (``n_neighbors`` is capped at N - 1).
        max_per_set: keep at most this many poses per set (:func:`~posekit.generalization.coverage.subsample`,
            seeded, original order kept); ``None`` keeps all.
        fill: missing-joint fill of :func:`stack_features`.
    """
    if method not in METHODS:
        raise ValueError(f"embed: unknown method {method!r}; methods: {list(METHODS)}")
    sets = _check_sets(sets, "embed")
    n_input = {s.dataset: len(s) for s in sets}
    if max_per_set is not None:
        sets = [subsample(s, max_per_set, seed=0 if seed is None else seed) for s in sets]
    x, ids, rows = stack_features(sets, fill=fill)
    if len(x) < 3:
        raise ValueError(f"embed: needs at least 3 poses in all, got {len(x)} ({n_input})")
    params = {
        "seed": seed, "fill": fill, "max_per_set": max_per_set, "n_per_set": {s.dataset: len(s) for s in sets},
        "n_before_subsample": n_input, "joint_names": list(sets[0].joint_names), "dim": sets[0].dim,
        "n_features": int(x.shape[1]),
    }
    t0 = time.perf_counter()
    if method == "pca":
        coords, extra = _pca(x)
    else:
        coords, extra = _umap(x, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist)
    params.update(extra)
    params["seconds"] = round(time.perf_counter() - t0, 3)
    return Embedding(coords, ids, tuple(s.dataset for s in sets), rows, method, params)


def _pca(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Two leading principal components of ``x`` (N, F); each component's largest-|loading| entry is positive."""
    mean = x.mean(axis=0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    comps = vt[:2].copy()  # N >= 3 and F >= 2, so there are two
    for c in comps:
        if c.any() and c[np.argmax(np.abs(c))] < 0:
            c *= -1
    var = s ** 2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return xc @ comps.T, {
        "explained_variance": [float(r) for r in ratio[:2]],
        "mean": mean.tolist(), "components": comps.tolist(),
    }


def _umap(x: np.ndarray, *, seed: int | None, n_neighbors: int, min_dist: float) -> tuple[np.ndarray, dict]:
    try:
        import umap
    except ImportError as e:
        raise ImportError(_UMAP_MISSING) from e
    nn = int(min(n_neighbors, len(x) - 1))
    if nn < 2:
        raise ValueError(f"embed: UMAP needs n_neighbors >= 2, got {n_neighbors} for {len(x)} poses")
    reducer = umap.UMAP(n_components=2, n_neighbors=nn, min_dist=float(min_dist), metric="euclidean",
                        random_state=seed)
    with warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": the documented price of a seeded fit
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden.*")
        coords = reducer.fit_transform(np.ascontiguousarray(x, dtype=np.float32))
    return np.asarray(coords, dtype=np.float64), {
        "n_neighbors": nn, "min_dist": float(min_dist), "metric": "euclidean",
        "umap_version": getattr(umap, "__version__", "unknown"),
    }


def _npz_path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_embedding(emb: Embedding, path) -> Path:
    """Write ``emb`` to ``path`` (``.npz`` appended when missing: coords, dataset_ids, source_rows, datasets,
    method, params as JSON) and a ``.csv`` beside it (``x,y,dataset,row``); both atomically. Returns the npz path."""
    path = _npz_path(path)
    with atomic_writer(path) as f:
        np.savez(
            f, coords=emb.coords, dataset_ids=emb.dataset_ids, source_rows=emb.source_rows,
            datasets=np.array(emb.datasets, dtype=str).reshape(len(emb.datasets)), method=np.array(emb.method),
            params=np.array(json.dumps(emb.params, allow_nan=False)),
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["x", "y", "dataset", "row"])
    for (x, y), d, r in zip(emb.coords.tolist(), emb.dataset_ids.tolist(), emb.source_rows.tolist(), strict=True):
        w.writerow([f"{x:.9g}", f"{y:.9g}", emb.datasets[d], r])
    with atomic_writer(path.with_suffix(".csv")) as f:
        f.write(buf.getvalue().encode("utf-8"))
    return path


def load_embedding(path) -> Embedding:
    """Read an :class:`Embedding` written by :func:`save_embedding` (no pickles are loaded)."""
    path = _npz_path(path)
    keys = ("coords", "dataset_ids", "source_rows", "datasets", "method", "params")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in keys if k not in z.files]
        if missing:
            raise ValueError(f"{path}: not a posekit embedding, missing arrays {missing}")
        return Embedding(z["coords"], z["dataset_ids"], tuple(z["datasets"].tolist()), z["source_rows"],
                         str(z["method"]), json.loads(str(z["params"])))
