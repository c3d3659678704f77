"""Does a robustness cell run at the estimator's normal speed? (issue #19: no overhead beyond the corruption itself)

For N LSP test images and one model: the clean pass as ``posekit eval`` runs it (``predict_to_file``, no transform),
then one cell per corruption at one severity as ``posekit robustness`` runs it (the same call with the corruption as
its image transform). Per pass: wall seconds per image, the model's own seconds per image (as recorded in the
predictions file) and the corruption's seconds per image. The figure of merit is

    overhead ratio = cell wall time / (clean wall time + corruption time)

which is 1.00 when a cell costs exactly a clean evaluation plus the corruption. Check ``uptime`` first (an idle
machine; the model is single-threaded with ``--threads 1`` so other work does not skew it).

    python benchmarks/bench_robustness.py [--images 200] [--severity 3] [--model blazepose_full] \
        [--json docs/results/bench_robustness.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.eval.dataset import load_eval_set
from posekit.eval.predict import predict_to_file, read_predictions
from posekit.eval.runner import build_estimator
from posekit.generalization.corruptions import corruption_names
from posekit.generalization.robustness import corruptor
from posekit.runtime.threads import configure_threads

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _pass(est, eval_set, folder: Path, name: str, transform, transform_id) -> dict:
    path = folder / f"{name}.jsonl"
    t0 = time.perf_counter()
    predict_to_file(est, eval_set, path, model="bench", batch_size=16, progress=False, transform=transform,
                    transform_id=transform_id)
    wall = (time.perf_counter() - t0) / len(eval_set.images)
    records = read_predictions(path)[1]
    return {"wall_s_per_image": wall, "model_s_per_image": float(np.mean([r["seconds"] for r in records])),
            "corruption_s_per_image": float(np.mean([r.get("transform_seconds", 0.0) for r in records]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--severity", type=int, default=3)
    ap.add_argument("--model", default="blazepose_full")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    configure_threads(args.threads)
    eval_set = load_eval_set("lsp", ann=SHARED / "lsp", limit=args.images)
    est, _ = build_estimator(args.model)
    load = os.getloadavg()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        _pass(est, eval_set, Path(tmp), "warmup", None, None)  # first calls: lazy loads, allocator warm-up
        clean = _pass(est, eval_set, Path(tmp), "clean", None, None)
        print(f"{'pass':18s} {'wall ms/img':>11s} {'model ms':>9s} {'corrupt ms':>10s} {'overhead ratio':>15s}")
        print(f"{'clean':18s} {1e3 * clean['wall_s_per_image']:11.1f} {1e3 * clean['model_s_per_image']:9.1f} "
              f"{0.0:10.1f} {'1.00':>15s}")
        for name in corruption_names():
            row = _pass(est, eval_set, Path(tmp), name, corruptor(name, args.severity, 0), f"{name}/bench")
            row["overhead_ratio"] = row["wall_s_per_image"] / (clean["wall_s_per_image"]
                                                               + row["corruption_s_per_image"])
            rows[name] = row
            print(f"{name:18s} {1e3 * row['wall_s_per_image']:11.1f} {1e3 * row['model_s_per_image']:9.1f} "
                  f"{1e3 * row['corruption_s_per_image']:10.1f} {row['overhead_ratio']:15.2f}")
    ratios = [r["overhead_ratio"] for r in rows.values()]
    print(f"overhead ratio: median {np.median(ratios):.2f}, max {max(ratios):.2f} "
          f"(load average before: {load[0]:.2f})")
    if args.json:
        out = {"what": "robustness cell vs clean posekit-eval pass, per image", "command":
               "python benchmarks/bench_robustness.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items()
                                                                   if k != "json" and v is not None),
               "model": args.model, "images": len(eval_set.images), "severity": args.severity,
               "threads": args.threads, "load_average_before": load[0], "clean": clean, "cells": rows,
               "overhead_ratio_median": float(np.median(ratios)), "overhead_ratio_max": float(max(ratios))}
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
