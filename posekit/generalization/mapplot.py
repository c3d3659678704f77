"""Figures of a pose-space :class:`~posekit.generalization.embed.Embedding`: a PNG scatter and a self-contained
interactive HTML page.

**Draw order.** Datasets are drawn largest first, so the smallest sets lie on top and are never hidden under a
large one (the legend lists them in input order with their counts). Both outputs use the same colours (matplotlib's
``tab10``, ``tab20`` beyond 10 datasets).

The HTML page needs no network: the points are inlined as compact JSON (coordinates rounded to 3 decimals) and
drawn on a ``<canvas>`` by ~100 lines of inline JavaScript: drag to pan, wheel to zoom about the cursor, hover for
the dataset and row of the nearest point, legend checkboxes to show or hide datasets. 50k points take ~1 MB.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from posekit.generalization.embed import Embedding
from posekit.io.atomic import atomic_destination, atomic_writer


def _colors(n: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(n)]


def _draw_order(emb: Embedding) -> list[int]:
    """Dataset indices, largest set first (drawn first, so small sets end on top)."""
    counts = np.bincount(emb.dataset_ids, minlength=len(emb.datasets))
    return sorted(range(len(emb.datasets)), key=lambda i: (-counts[i], i))


def _axis_labels(emb: Embedding) -> tuple[str, str]:
    if emb.method == "pca":
        ev = emb.params.get("explained_variance") or [np.nan, np.nan]
        return f"PC 1 ({100 * ev[0]:.1f} % of variance)", f"PC 2 ({100 * ev[1]:.1f} % of variance)"
    return f"{emb.method.upper()} 1", f"{emb.method.upper()} 2"


def plot_map(
    emb: Embedding,
    path_png,
    *,
    title: str | None = None,
    point_size: float | None = None,
    max_points_per_set: int | None = None,
    seed: int = 0,
) -> Path:
    """Scatter plot of ``emb`` coloured by dataset, written atomically to ``path_png``; returns the path.

    Args:
        title: figure title (default: method and point count).
        point_size: marker area in points^2 (default: from the number of points drawn, 0.3-12).
        max_points_per_set: draw at most this many points per dataset (seeded random choice); the legend still
            gives each dataset's full count and says how many are shown.
        seed: seed of that choice.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    from matplotlib.lines import Line2D

    rng = np.random.default_rng(seed)
    colors = _colors(len(emb.datasets))
    counts = emb.counts()
    shown: dict[int, np.ndarray] = {}
    for i in range(len(emb.datasets)):
        rows = np.flatnonzero(emb.dataset_ids == i)
        if max_points_per_set is not None and len(rows) > max_points_per_set:
            rows = np.sort(rng.choice(rows, size=max_points_per_set, replace=False))
        shown[i] = rows
    n_drawn = sum(len(r) for r in shown.values())
    size = float(point_size) if point_size is not None else float(np.clip(20000.0 / max(n_drawn, 1), 0.3, 12.0))

    fig = Figure(figsize=(8.5, 7.5), dpi=150, layout="constrained")
    ax = fig.subplots()
    lo, hi = view_limits(emb.coords)
    outside = 0
    for i in _draw_order(emb):
        xy = emb.coords[shown[i]]
        out = ((xy < lo) | (xy > hi)).any(axis=1)
        outside += int(out.sum())
        xy = np.clip(xy, lo, hi)
        ax.scatter(xy[~out, 0], xy[~out, 1], s=size, c=colors[i], linewidths=0, alpha=0.8, rasterized=True)
        if out.any():  # clamped onto the frame, drawn as small crosses
            ax.scatter(xy[out, 0], xy[out, 1], s=max(size, 4.0), c=colors[i], marker="x", linewidths=0.6)
    handles = []
    for i, name in enumerate(emb.datasets):
        n = counts[name]
        label = f"{name} (n={n:,})" if len(shown[i]) == n else f"{name} (n={n:,}, {len(shown[i]):,} shown)"
        handles.append(Line2D([], [], ls="", marker="o", ms=6, color=colors[i], label=label))
    note = f"; {outside:,} outliers as x on the frame" if outside else ""
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.85,
              title=f"dataset (smaller sets drawn on top{note})", title_fontsize=8)
    xl, yl = _axis_labels(emb)
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.2)
    ax.set_title(title if title is not None else f"Pose-space map ({emb.method.upper()}, {len(emb):,} poses)")
    path = Path(path_png)
    with atomic_destination(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def view_limits(coords: np.ndarray, *, quantile: float = 0.001, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` (2,) axis limits of the PNG: the ``quantile`` / ``1 - quantile`` quantiles of each axis widened by
    ``margin`` of their span on each side, never beyond the data. A handful of extreme poses (a torso scale of a few
    pixels, an annotation error) would otherwise squeeze the whole map into a corner; they are drawn clamped onto the
    frame instead."""
    q_lo, q_hi = np.quantile(coords, [quantile, 1.0 - quantile], axis=0)
    span = np.maximum(q_hi - q_lo, 1e-9)
    return np.maximum(q_lo - margin * span, coords.min(axis=0)), np.minimum(q_hi + margin * span, coords.max(axis=0))


def html_payload(emb: Embedding) -> dict:
    """The JSON-able data the HTML page draws: dataset names, colours, counts, draw order and per-point columns
    ``x``, ``y`` (rounded to 3 decimals), ``d`` (dataset index) and ``r`` (source row)."""
    counts = emb.counts()
    return {
        "method": emb.method,
        "datasets": list(emb.datasets),
        "colors": _colors(len(emb.datasets)),
        "counts": [counts[n] for n in emb.datasets],
        "order": _draw_order(emb),
        "axes": list(_axis_labels(emb)),
        "x": np.round(emb.coords[:, 0], 3).tolist(),
        "y": np.round(emb.coords[:, 1], 3).tolist(),
        "d": emb.dataset_ids.tolist(),
        "r": emb.source_rows.tolist(),
    }


def write_html(emb: Embedding, path_html, *, title: str | None = None) -> Path:
    """A self-contained interactive HTML map of ``emb`` (module docstring), written atomically; returns the path."""
    title = title if title is not None else f"Pose-space map ({emb.method.upper()}, {len(emb):,} poses)"
    data = json.dumps(html_payload(emb), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    fields = {"TITLE": html.escape(title), "DATA": data}
    page = re.sub(r"__(TITLE|DATA)__", lambda m: fields[m.group(1)], _PAGE)  # one pass: no re-substitution
    path = Path(path_html)
    with atomic_writer(path) as f:
        f.write(page.encode("utf-8"))
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{margin:0;font:13px sans-serif;display:flex;height:100vh}
#plot{flex:1;position:relative}canvas{width:100%;height:100%;display:block;cursor:grab}
#side{width:230px;padding:8px;overflow:auto;border-left:1px solid #ccc}
#side label{display:block;margin:3px 0;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin:0 5px 0 3px;border-radius:5px}
#tip{position:absolute;pointer-events:none;background:#fffe;border:1px solid #999;padding:2px 5px;display:none}
</style></head><body>
<div id="plot"><canvas id="c"></canvas><div id="tip"></div></div>
<div id="side"><b>__TITLE__</b><p id="axes"></p><p>Drag: pan. Wheel: zoom. Hover: dataset and row.</p>
<div id="legend"></div></div>
<script type="application/json" id="posekit-map-data">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("posekit-map-data").textContent);
const cv = document.getElementById("c"), ctx = cv.getContext("2d"), tip = document.getElementById("tip");
const N = D.x.length, on = D.datasets.map(() => true);
document.getElementById("axes").textContent = D.axes.join(" / ");
let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
for (let i = 0; i < N; i++) {
  xmin = Math.min(xmin, D.x[i]); xmax = Math.max(xmax, D.x[i]);
  ymin = Math.min(ymin, D.y[i]); ymax = Math.max(ymax, D.y[i]);
}
if (!(xmax > xmin)) { xmin -= 1; xmax += 1; }
if (!(ymax > ymin)) { ymin -= 1; ymax += 1; }
// view: screen = (data - origin) * scale (y flipped); fit all points with a margin
let scale = 1, ox = 0, oy = 0, W = 0, H = 0;
function fit() {
  scale = 0.9 * Math.min(W / (xmax - xmin), H / (ymax - ymin));
  ox = (xmin + xmax) / 2 - W / 2 / scale; oy = (ymin + ymax) / 2 + H / 2 / scale;
}
const sx = x => (x - ox) * scale, sy = y => (oy - y) * scale;
// point indices grouped by dataset, in draw order (largest set first, small sets on top)
const groups = D.datasets.map(() => []);
for (let i = 0; i < N; i++) groups[D.d[i]].push(i);
function draw() {
  ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  ctx.clearRect(0, 0, W, H);
  const r = N > 20000 ? 1 : N > 2000 ? 1.5 : 2.5;
  for (const k of D.order) {
    if (!on[k]) continue;
    ctx.fillStyle = D.colors[k];
    for (const i of groups[k]) ctx.fillRect(sx(D.x[i]) - r, sy(D.y[i]) - r, 2 * r, 2 * r);
  }
}
function resize() {
  const b = cv.getBoundingClientRect(), first = W === 0;
  W = b.width; H = b.height;
  cv.width = W * devicePixelRatio; cv.height = H * devicePixelRatio;
  if (first) fit();
  draw();
}
const legend = document.getElementById("legend");
D.datasets.forEach((name, k) => {
  const lab = document.createElement("label"), box = document.createElement("input");
  const sw = document.createElement("span");
  box.type = "checkbox"; box.checked = true;
  box.onchange = () => { on[k] = box.checked; draw(); };
  sw.className = "sw"; sw.style.background = D.colors[k];
  lab.append(box, sw, document.createTextNode(name + " (" + D.counts[k].toLocaleString() + ")"));
  legend.append(lab);
});
let drag = null;
cv.onmousedown = e => { drag = [e.offsetX, e.offsetY]; cv.style.cursor = "grabbing"; };
window.onmouseup = () => { drag = null; cv.style.cursor = "grab"; };
cv.onmousemove = e => {
  if (drag) {
    ox -= (e.offsetX - drag[0]) / scale; oy += (e.offsetY - drag[1]) / scale;
    drag = [e.offsetX, e.offsetY]; tip.style.display = "none"; draw(); return;
  }
  let best = -1, bd = 64;  // nearest visible point within 8 px
  for (let i = 0; i < N; i++) {
    if (!on[D.d[i]]) continue;
    const dx = sx(D.x[i]) - e.offsetX, dy = sy(D.y[i]) - e.offsetY, dd = dx * dx + dy * dy;
    if (dd < bd) { bd = dd; best = i; }
  }
  if (best < 0) { tip.style.display = "none"; return; }
  tip.textContent = D.datasets[D.d[best]] + ", row " + D.r[best];
  tip.style.left = (e.offsetX + 12) + "px"; tip.style.top = (e.offsetY + 12) + "px"; tip.style.display = "block";
};
cv.onmouseleave = () => { tip.style.display = "none"; };
cv.onwheel = e => {
  e.preventDefault();
  const f = Math.exp(-e.deltaY * 0.0015), x = ox + e.offsetX / scale, y = oy - e.offsetY / scale;
  scale *= f; ox = x - e.offsetX / scale; oy = y + e.offsetY / scale;
  draw();
};
cv.ondblclick = () => { fit(); draw(); };
window.onresize = resize;
resize();
</script></body></html>
"""
