"""The pose-space dataset map behind ``posekit datamap``: sources -> normalised pose sets -> embedding, figures and
the coverage table.

Steps of :func:`build_datamap` (each one a function of its own module):

1. every source is loaded and normalised (:func:`posekit.generalization.sources.load_pose_set`: the common 12 limb
   joints, root subtraction, torso or bone scale, optional left-right canonicalisation; 3D sources in the camera or
   body frame); poses that cannot be normalised are dropped and counted per source;
2. each set is subsampled to ``max_per_set`` poses (seeded, reproducible: :func:`~posekit.generalization.coverage.
   subsample`);
3. UMAP and/or PCA of the pooled poses (:func:`posekit.generalization.embed.embed`), saved with dataset ids and each
   point's row in its source (``embedding_<method>.npz`` + ``.csv``), drawn as PNG and interactive HTML
   (:mod:`posekit.generalization.mapplot`);
4. the coverage table (:func:`posekit.generalization.tables.coverage_table`: k-NN coverage of each set by each other,
   domain separability, per-joint variance) on at most ``coverage_max_per_set`` poses per set, as JSON and Markdown.

``OUT/datamap.json`` records the options, per-source counts (loaded, dropped, mapped), the files and the seconds per
step, so the figure in the docs can be traced to its command.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from posekit.generalization.coverage import subsample
from posekit.generalization.embed import METHODS, embed, save_embedding
from posekit.generalization.mapplot import plot_map, write_html
from posekit.generalization.sources import PoseSource, load_pose_set
from posekit.generalization.tables import coverage_table, format_coverage_markdown
from posekit.io.atomic import atomic_destination

__all__ = ["SCHEMA", "build_datamap"]

SCHEMA = "posekit.datamap/1"


def _write_text(path: Path, text: str) -> None:
    with atomic_destination(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def build_datamap(sources: Sequence[PoseSource], *, out: str | os.PathLike, dim: int = 2, frame: str = "camera",
                  scale: str | None = "torso", canonicalize_lr: bool = False, methods: Sequence[str] = ("umap",),
                  max_per_set: int | None = 10_000, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                  coverage: bool = True, coverage_max_per_set: int = 2000, k: int = 5, stride: int = 12,
                  log=None) -> dict[str, Any]:
    """Build the map of ``sources`` into ``out`` and return the summary written to ``out/datamap.json``.

    Args:
        sources: at least one :class:`~posekit.generalization.sources.PoseSource` with distinct names.
        dim, frame, scale, canonicalize_lr, stride: pose space options (:func:`~posekit.generalization.sources.
            load_pose_set`; ``frame`` applies to 3D sources).
        methods: ``"umap"`` and/or ``"pca"``.
        max_per_set: poses per set after the seeded subsample (``None``: all).
        seed: subsample, virtual-camera and embedding seed (UMAP with a seed is reproducible and single-threaded).
        coverage: compute the coverage table (needs two or more sets); ``coverage_max_per_set`` poses per set.
        log: optional ``callable(str)`` for progress lines.
    """
    if not sources:
        raise ValueError("datamap: give at least one pose source")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"datamap: source names must be distinct, got {names}")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"datamap: methods must be among {', '.join(METHODS)}, got {list(methods)}")
    say = log or (lambda _msg: None)
    out = Path(out)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    sets, counts = [], []
    for src in sources:
        t = time.perf_counter()
        poses = load_pose_set(src, dim=dim, frame=frame, scale=scale, canonicalize_lr=canonicalize_lr,
                              stride=stride, seed=seed)
        kept = subsample(poses, max_per_set, seed=seed) if max_per_set else poses
        sets.append(kept)
        counts.append({"name": src.name, "kind": src.kind, "path": str(src.path), "input": poses.n_input,
                       "normalised": len(poses), "dropped": poses.n_dropped, "mapped": len(kept),
                       "skeleton": poses.source_skeleton, "seconds": round(time.perf_counter() - t, 2)})
        say(f"{src.name}: {poses.n_input} poses read, {poses.n_dropped} dropped, {len(kept)} mapped "
            f"({time.perf_counter() - t:.1f} s)")
    timing["load"] = time.perf_counter() - t0
    files: dict[str, str] = {}
    params: dict[str, Any] = {}
    title_space = f"{dim}D, root-relative, {scale or 'unscaled'}" + (", L/R canonical" if canonicalize_lr else "")
    if dim == 3:
        title_space += f", {frame} frame"
    for method in methods:
        t = time.perf_counter()
        emb = embed(sets, method=method, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist)
        timing[f"embed_{method}"] = time.perf_counter() - t
        params[method] = emb.params
        files[f"embedding_{method}"] = str(save_embedding(emb, out / f"embedding_{method}.npz"))
        title = f"{method.upper()} of {len(emb.coords)} poses ({title_space})"
        files[f"map_{method}_png"] = str(plot_map(emb, out / f"map_{method}.png", title=title, seed=seed))
        files[f"map_{method}_html"] = str(write_html(emb, out / f"map_{method}.html", title=title))
        say(f"{method}: {len(emb.coords)} poses embedded in {timing[f'embed_{method}']:.1f} s")
    table = None
    if coverage and len(sets) > 1:
        t = time.perf_counter()
        table = coverage_table(sets, k=k, seed=seed, max_per_set=coverage_max_per_set)
        timing["coverage"] = time.perf_counter() - t
        _write_text(out / "coverage.json", json.dumps(table, indent=1, allow_nan=False) + "\n")
        _write_text(out / "coverage.md", format_coverage_markdown(table) + "\n")
        files["coverage_json"], files["coverage_md"] = str(out / "coverage.json"), str(out / "coverage.md")
        say(f"coverage table in {timing['coverage']:.1f} s")
    timing["total"] = time.perf_counter() - t0
    summary = {
        "schema": SCHEMA, "sources": counts,
        "options": {"dim": dim, "frame": frame if dim == 3 else "image", "scale": scale,
                    "canonicalize_lr": canonicalize_lr, "methods": list(methods), "max_per_set": max_per_set,
                    "seed": seed, "n_neighbors": n_neighbors, "min_dist": min_dist, "stride": stride, "k": k,
                    "coverage_max_per_set": coverage_max_per_set, "joints": list(sets[0].joint_names)},
        "embedding_params": params, "files": files,
        "seconds": {key: round(v, 2) for key, v in timing.items()},
    }
    _write_text(out / "datamap.json", json.dumps(summary, indent=1, allow_nan=False) + "\n")
    summary["coverage"] = table
    return summary
