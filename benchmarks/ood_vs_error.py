"""Does the OOD score of a pose predict how wrong a model gets it? BlazePose on the 1000 LSP test images.

Reference pose distributions (12 limb joints, mid-hip root, torso scale; :mod:`posekit.generalization.ood`):

* ``coco``: the 6352 COCO val2017 persons (``coco/person_keypoints_val2017_reconstructed.json``, every labelled
  joint, occluded ones included); an out-of-domain reference for LSP's sports poses;
* ``lsp_train``: LSP training images 1-1000 (in-domain reference, for contrast).

Query: LSP test images 1001-2000 with BlazePose (``blazepose_full``) predictions on the GT boxes, as written by
``posekit eval --model blazepose_full --dataset lsp --ann ../shared/data/lsp --boxes gt --out DIR``
(``DIR/predictions.jsonl``; run here when ``--predictions`` is not given). Two scores per image:

* ``gt``: OOD score of the annotated pose (a user who has labels);
* ``pred``: OOD score of the predicted pose (what a deployed system sees), keypoints scored <= 0.3 missing;
* ``pred_all_joints``: the same with every predicted joint kept (BlazePose's scores are visibilities: a joint it
  calls invisible is still placed).

Baseline (``baseline_mean_pose_rho``): the same Spearman rho for a trivial score, the distance of the normalised pose
to the reference's mean pose, to tell what the k-NN model adds.

Per-image error: PCK@0.2 with the longer side of the GT joints' tight box (``pck_bbox``) and with the torso
``||GT left_shoulder - GT right_hip||`` (``pck_torso``), as ``posekit eval`` computes them, over the 12 joints
BlazePose maps to (neck and head_top unmapped), and the mean joint error / torso (``err_torso``). Images without a
prediction count PCK 0 and have no ``err_torso`` or ``pred`` score (the ``pred`` rows use only predicted images).

Reported per (reference, score): Spearman's rho of score vs each error with its p-value, and the mean error per
score quintile; written to ``docs/results/ood_vs_error.json``.

    python benchmarks/ood_vs_error.py [--predictions /tmp/h4/bp_lsp/predictions.jsonl] [--out ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from posekit import skeletons as sk
from posekit.data import load_coco_keypoints, load_lsp
from posekit.eval.predict import read_predictions
from posekit.eval.scores import PCK_THRESHOLD, skeleton_mapping
from posekit.generalization.coverage import knn_distances
from posekit.generalization.ood import (
    NormalizeOptions,
    error_by_score,
    fit_ood,
    score_poses,
)
from posekit.generalization.posespace import PoseSet
from posekit.metrics.pck import bbox_size, normalized_distances, torso_size
from posekit.types import Poses

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "results" / "ood_vs_error.json"
SCORE_THRESHOLD = 0.3


def predictions(path: Path | None, workdir: Path) -> Path:
    """The BlazePose predictions file (run ``posekit eval`` when none is given)."""
    if path is not None:
        return path
    cmd = ["posekit", "eval", "--model", "blazepose_full", "--dataset", "lsp", "--ann", str(DATA / "lsp"),
           "--boxes", "gt", "--batch-size", "16", "--threads", "1", "--out", str(workdir)]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return workdir / "predictions.jsonl"


def lsp_arrays(samples) -> tuple[np.ndarray, np.ndarray]:
    """(N, 14, 2) GT keypoints (NaN = unlabelled) and (N, 14) 1/0 labelled flags of LSP samples."""
    kp = np.stack([s.keypoints for s in samples]).astype(np.float64)
    return kp, np.isfinite(kp).all(axis=2).astype(np.float64)


def per_image_errors(gt: np.ndarray, pred: np.ndarray, mapped: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image PCK@0.2 (bbox, torso) over the mapped labelled joints (a missing prediction counts wrong) and mean
    joint error / torso (NaN for images without a prediction)."""
    mask = np.isfinite(gt).all(axis=2) & mapped[None]
    tight = np.stack([np.nanmin(gt, axis=1), np.nanmax(gt, axis=1)], axis=1).reshape(-1, 4)
    bbox = bbox_size(tight)
    torso = np.nan_to_num(torso_size(gt, first=sk.lsp14.index("left_shoulder"),
                                     second=sk.lsp14.index("right_hip")), nan=0.0)
    out = {}
    for name, norm in (("pck_bbox", bbox), ("pck_torso", torso)):
        dist, valid = normalized_distances(pred, gt, mask, normalize=norm)
        hit = valid & (np.nan_to_num(dist, nan=np.inf) < PCK_THRESHOLD)
        n = valid.sum(axis=1)
        out[name] = np.where(n > 0, hit.sum(axis=1) / np.maximum(n, 1), np.nan)
    dist, valid = normalized_distances(pred, gt, mask, normalize=torso)
    has_pred = np.isfinite(pred).all(axis=2).any(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # images without a prediction: all-NaN rows
        err = np.nanmean(np.where(valid, dist, np.nan), axis=1)
    out["err_torso"] = np.where(has_pred, err, np.nan)
    return out


def mean_pose_distance(model, poses: Poses, score_threshold: float) -> np.ndarray:
    """Trivial baseline score: distance of each normalised pose to the reference's mean pose (NaN = not scored)."""
    ref = model.scorer.reference
    mean = PoseSet(np.nanmean(ref.points, axis=0)[None], ref.joint_names, "mean")
    q = model.options.normalize(poses, score_threshold=score_threshold)
    out = np.full(len(poses), np.nan)
    out[q.indices] = knn_distances(q, mean, 1)[:, 0]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictions", type=Path, default=None, help="posekit eval predictions.jsonl (LSP, gt boxes)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ood_vs_error"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--bins", type=int, default=5)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    opts = NormalizeOptions()

    coco_file = DATA / "coco" / "person_keypoints_val2017_reconstructed.json"
    coco, _ = load_coco_keypoints(coco_file, image_dir=None)
    coco_kp = np.stack([s.keypoints for s in coco]).astype(np.float64)
    coco_set = opts.normalize(coco_kp, coco[0].skeleton, dataset="coco")
    train, _ = load_lsp(DATA / "lsp", indices=range(1000))
    train_set = opts.normalize(lsp_arrays(train)[0], sk.lsp14, dataset="lsp_train")
    refs = {"coco": fit_ood(coco_set, options=opts, k=args.k), "lsp_train": fit_ood(train_set, options=opts, k=args.k)}

    test, _ = load_lsp(DATA / "lsp")  # images 1001-2000
    gt, labelled = lsp_arrays(test)
    pred_file = predictions(args.predictions, args.workdir)
    header, records, broken = read_predictions(pred_file)
    if header is None or header.get("dataset") != "lsp" or broken:
        raise SystemExit(f"{pred_file}: not a clean posekit eval predictions file of LSP (header {header}, "
                         f"{broken} broken line(s))")
    model_sk = getattr(sk, records[0]["skeleton"])
    route, route_name = skeleton_mapping(model_sk, sk.lsp14)
    mapped = np.zeros(14, bool)
    mapped[[d for _, d in route.pairs]] = True
    pred_src = np.full((len(test), model_sk.num_keypoints, 2), np.nan)
    pred_sc = np.zeros((len(test), model_sk.num_keypoints))
    for rec in records:
        for inst in rec.get("instances", []):
            pred_src[int(inst["sample"])] = np.array(inst["keypoints"], np.float64)
            pred_sc[int(inst["sample"])] = np.array(inst["scores"], np.float64)
    pred_lsp = route.apply(pred_src, pred_sc)[0]
    errors = per_image_errors(gt, pred_lsp, mapped)
    has_pred = np.isfinite(pred_src).all(axis=2).any(axis=1)

    gt_poses = Poses(gt, labelled, np.zeros((len(test), 4)), sk.lsp14)
    pred_poses = Poses(pred_src, pred_sc, np.zeros((len(test), 4)), model_sk)
    result = {
        "what": "Spearman rho of the per-image OOD score (k-NN, 12 limb joints, mid-hip root, torso scale) vs "
                "BlazePose (blazepose_full, GT boxes) per-image error on the 1000 LSP test images; bins = score "
                "quintiles (lowest scores first)",
        "command": "python benchmarks/ood_vs_error.py",
        "model": header.get("model"), "mapping": route_name, "pck_threshold": PCK_THRESHOLD,
        "pred_keypoint_score_threshold": SCORE_THRESHOLD, "k": args.k,
        "n_images": len(test), "n_without_prediction": int((~has_pred).sum()),
        "mean_error": {n: float(np.nanmean(v)) for n, v in errors.items()},
        "references": {}, "results": {},
    }
    for ref_name, model in refs.items():
        result["references"][ref_name] = {"n_poses": len(model.scorer.reference),
                                          "n_dropped": int(model.scorer.reference.n_dropped),
                                          "calibration": model.scorer.calibration}
        for which, poses, thr in (("gt", gt_poses, 0.0), ("pred", pred_poses, SCORE_THRESHOLD),
                                  ("pred_all_joints", pred_poses, 0.0)):
            ps = score_poses(model, poses, score_threshold=thr)
            entry = {"n_scored": int(np.isfinite(ps.scores).sum()), "median_score": float(np.nanmedian(ps.scores)),
                     "fraction_flagged": float(ps.flagged[np.isfinite(ps.scores)].mean())}
            ok = np.isfinite(ps.scores)
            entry["pck_bbox_flagged"] = float(errors["pck_bbox"][ok & ps.flagged].mean()) if ps.flagged.any() else None
            entry["pck_bbox_not_flagged"] = float(errors["pck_bbox"][ok & ~ps.flagged].mean())
            for err_name, err in errors.items():
                entry[err_name] = error_by_score(ps.scores, err, bins=args.bins)
            base = mean_pose_distance(model, poses, thr)
            entry["baseline_mean_pose_rho"] = {n: error_by_score(base, err, bins=1)["spearman_rho"]
                                               for n, err in errors.items()}
            result["results"][f"{ref_name}/{which}"] = entry
    result["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    print(f"BlazePose on LSP test ({len(test)} images, {result['n_without_prediction']} without a prediction); "
          f"mean PCK@0.2 bbox {result['mean_error']['pck_bbox']:.3f}, torso {result['mean_error']['pck_torso']:.3f}")
    head = f"{'reference/score':26s} {'scored':>6s} {'flag%':>6s}"
    head += "".join(f" {'rho ' + n:>15s}" for n in errors) + "  rho pck_bbox (mean-pose baseline)"
    head += "   mean PCK@0.2 bbox per score quintile"
    print(head)
    for key, entry in result["results"].items():
        row = f"{key:26s} {entry['n_scored']:6d} {100 * entry['fraction_flagged']:6.1f}"
        for n in errors:
            rho = entry[n]["spearman_rho"]
            row += f" {'n/a' if rho is None else f'{rho:+.3f}':>15s}"
        base = entry["baseline_mean_pose_rho"]["pck_bbox"]
        row += f"  {'n/a' if base is None else f'{base:+.3f}':>33s}"
        row += "   " + " ".join(f"{b['error_mean']:.3f}" for b in entry["pck_bbox"]["bins"])
        print(row)
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
