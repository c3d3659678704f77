"""Coverage and distance numbers between pose datasets (the table beside the pose-space map), as a JSON-able dict
and as Markdown.

For every **ordered** pair of datasets (A, B), A != B, in the normalised pose space
(:mod:`posekit.generalization.coverage`, NaN-aware distances, unit = the normalisation's scale reference):

- ``coverage``: the fraction of A's poses within B's support (:func:`~posekit.generalization.coverage.knn_coverage`:
  nearest B pose within ``radius``, the 95th percentile of B's own leave-one-out distance to its k-th neighbour).
  Asymmetric: a narrow set inside a broad one is covered by it, not the other way round.
- ``nn_distance_quantiles``: quantiles of A's nearest-neighbour distances to B; ``reference_quantiles``: the same
  for B's own poses (leave-one-out). Equal when A is drawn like B; larger when A lies away from B.
- ``separability``: cross-validated accuracy of a domain classifier telling A from B, the better of a k-NN and a
  Gaussian (quadratic discriminant) one (:func:`~posekit.generalization.coverage.domain_separability`; 0.5 =
  indistinguishable, 1 = disjoint; ``separability_knn`` / ``separability_gaussian`` give both).
  Symmetric: computed once per unordered pair and copied into both orders.

Each dataset also gets its per-joint variance (:func:`~posekit.generalization.coverage.per_joint_variance`, squared
normalised units, over all its poses). Sets are first subsampled to ``max_per_set`` (seeded) for the pair numbers,
which cost O(n_A n_B) each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from posekit.generalization.coverage import (
    domain_separability,
    knn_coverage,
    per_joint_variance,
    subsample,
)
from posekit.generalization.posespace import PoseSet

QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95)
RADIUS_QUANTILE = 0.95


def _num(v) -> float | None:
    """JSON-safe float: NaN / inf -> None."""
    v = float(v)
    return v if math.isfinite(v) else None


def _check_sets(sets: Sequence[PoseSet], k: int, folds: int) -> list[PoseSet]:
    sets = list(sets)
    if not sets:
        raise ValueError("coverage_table: no pose sets given")
    for i, s in enumerate(sets):
        if not isinstance(s, PoseSet):
            raise TypeError(f"coverage_table: item {i} must be a PoseSet, got {type(s).__name__}")
    names = [s.dataset for s in sets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"coverage_table: dataset names must be unique, repeated: {dup}")
    first = sets[0]
    need = max(k + 1, folds) if len(sets) > 1 else 2
    for s in sets:
        if s.joint_names != first.joint_names or s.dim != first.dim:
            raise ValueError(
                f"coverage_table: pose sets {first.dataset!r} and {s.dataset!r} are not in the same space: joints "
                f"{first.joint_names} ({first.dim}D) vs {s.joint_names} ({s.dim}D)"
            )
        if len(s) < need:
            raise ValueError(f"coverage_table: dataset {s.dataset!r} has {len(s)} poses; needs at least {need} "
                             f"(more than k={k} and at least folds={folds})")
        if not s.present.any():
            raise ValueError(f"coverage_table: dataset {s.dataset!r} has no present joint at all")
    return sets


def coverage_table(
    sets: Sequence[PoseSet], *, k: int = 5, seed: int = 0, max_per_set: int | None = 5000, folds: int = 5
) -> dict:
    """Coverage, nearest-neighbour distances, separability and per-joint variance of pose sets (module docstring).

    Args:
        sets: PoseSets in one normalised space with unique ``dataset`` names, each with more than ``k`` and at least
            ``folds`` poses.
        k: neighbours for B's support radius and for the domain classifier.
        seed: seed of the subsample and of the classifier's folds.
        max_per_set: subsample each set to at most this many poses before the pair numbers (``None``: all).
        folds: cross-validation folds of the domain classifier.

    Returns:
        ``{"datasets": [{name, n, n_input, n_dropped, n_used, per_joint_variance: {joint: v}}],
        "pairs": [{a, b, coverage, radius, nn_distance_quantiles: {q: d}, reference_quantiles: {q: d},
        separability, fold_accuracies, n_a, n_b, n_separability}], "params": {...}}``; JSON-able (NaN -> None).
    """
    sets = _check_sets(sets, k, folds)
    used = [subsample(s, max_per_set, seed=seed) if max_per_set is not None else s for s in sets]
    datasets = []
    for s, u in zip(sets, used, strict=True):
        var = per_joint_variance(s)
        datasets.append({
            "name": s.dataset, "n": len(s), "n_input": s.n_input, "n_dropped": s.n_dropped, "n_used": len(u),
            "source_skeleton": s.source_skeleton, "frame": s.frame,
            "per_joint_variance": {j: _num(v) for j, v in zip(s.joint_names, var, strict=True)},
        })
    sep = {}
    for i in range(len(used)):
        for j in range(i + 1, len(used)):
            sep[i, j] = sep[j, i] = domain_separability(used[i], used[j], folds=folds, seed=seed, k=k,
                                                        max_per_set=None)
    pairs = []
    for i, a in enumerate(used):
        for j, b in enumerate(used):
            if i == j:
                continue
            cov = knn_coverage(a, b, k=k, quantiles=QUANTILES, radius_quantile=RADIUS_QUANTILE)
            pairs.append({
                "a": a.dataset, "b": b.dataset, "coverage": cov.coverage, "radius": _num(cov.radius),
                "nn_distance_quantiles": {str(q): _num(v) for q, v in cov.distance_quantiles.items()},
                "reference_quantiles": {str(q): _num(v) for q, v in cov.reference_quantiles.items()},
                "separability": sep[i, j].accuracy, "fold_accuracies": list(sep[i, j].fold_accuracies),
                "separability_knn": _num(sep[i, j].knn_accuracy),
                "separability_gaussian": _num(sep[i, j].gaussian_accuracy),
                "n_a": cov.n_a, "n_b": cov.n_b, "n_separability": sep[i, j].n_per_set,
            })
    params = {
        "k": k, "seed": seed, "max_per_set": max_per_set, "folds": folds, "quantiles": list(QUANTILES),
        "radius_quantile": RADIUS_QUANTILE, "joint_names": list(sets[0].joint_names), "dim": sets[0].dim,
        "distance": "NaN-aware Euclidean over shared joints, rescaled by J/|shared| (posekit.generalization.coverage)",
    }
    return {"datasets": datasets, "pairs": pairs, "params": params}


def _cell(name: str) -> str:
    return str(name).replace("|", "\\|")


def _matrix(names: list[str], value, corner: str) -> list[str]:
    lines = ["| " + " | ".join([corner] + [_cell(n) for n in names]) + " |", "|" + "---|" * (len(names) + 1)]
    for a in names:
        lines.append("| " + " | ".join([f"**{_cell(a)}**"] + [value(a, b) for b in names]) + " |")
    return lines


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def format_coverage_markdown(table: dict) -> str:
    """Markdown of a :func:`coverage_table` result: the coverage matrix, the median nearest-neighbour distance
    matrix, the separability matrix and the per-joint variance table, each with a header saying what it means."""
    names = [d["name"] for d in table["datasets"]]
    pair = {(p["a"], p["b"]): p for p in table["pairs"]}
    own = {p["b"]: p["reference_quantiles"].get("0.5") for p in table["pairs"]}
    prm = table.get("params", {})
    k, rq = prm.get("k", "?"), prm.get("radius_quantile", RADIUS_QUANTILE)
    out = [
        "### Coverage: % of dataset A (row) within dataset B's (column) support",
        "",
        (f"An A pose is covered when its nearest B pose lies within B's radius (the {100 * rq:g}th percentile of B's "
         f"own leave-one-out distance to its {k}th nearest neighbour); ~100 % when A is drawn like B, 0 % when "
         "disjoint. Not symmetric: a narrow set inside a broad one is covered by it, not the reverse."),
        "",
        *_matrix(names, lambda a, b: "-" if a == b else f"{100 * pair[a, b]['coverage']:.1f}", "A \\ B"),
        "",
        "### Median nearest-neighbour distance from A (row) to B (column)",
        "",
        ("In normalised pose units (torso or mean bone length, NaN-aware distance over the shared joints); the "
         "diagonal is each dataset's own median leave-one-out nearest-neighbour distance, the scale to compare with."),
        "",
        *_matrix(names, lambda a, b: _fmt(own.get(a) if a == b else pair[a, b]["nn_distance_quantiles"].get("0.5"),
                                          ".3f"), "A \\ B"),
        "",
        "### Separability: domain-classifier accuracy (%)",
        "",
        (f"Cross-validated ({prm.get('folds', '?')}-fold) accuracy of telling the two datasets apart on equal-size "
         f"samples, the better of a {k}-nearest-neighbour and a Gaussian (quadratic discriminant) classifier: 50 % = "
         "indistinguishable, 100 % = fully separable. Symmetric. Separable sets may still cover each other (a narrow "
         "set inside a broad one): read it with the coverage matrix."),
        "",
        *_matrix(names, lambda a, b: "-" if a == b else f"{100 * pair[a, b]['separability']:.1f}", ""),
        "",
        "### Per-joint variance (squared normalised units, over each dataset's poses with the joint present)",
        "",
        "| joint | " + " | ".join(_cell(n) for n in names) + " |",
        "|" + "---|" * (len(names) + 1),
    ]
    joints = list(table["datasets"][0]["per_joint_variance"]) if names else []
    for j in joints:
        out.append(f"| {j} | " + " | ".join(_fmt(d["per_joint_variance"].get(j), ".3f")
                                           for d in table["datasets"]) + " |")
    out += ["", "| dataset | poses kept | input | dropped | used for the pair numbers |", "|---|---|---|---|---|"]
    for d in table["datasets"]:
        out.append(f"| {_cell(d['name'])} | {d['n']:,} | {d['n_input']:,} | {d['n_dropped']:,} | {d['n_used']:,} |")
    return "\n".join(out) + "\n"
