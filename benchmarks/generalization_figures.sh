#!/usr/bin/env bash
# The figures and tables of docs/generalization.md (issue #19), from the data in ../shared/data.
# Big outputs go to $OUT (default posekit-generalization/); the small JSON / Markdown summaries and the PNG figures
# are copied into docs/results/ and docs/images/. Every step resumes or is cheap to redo.
#
#   benchmarks/generalization_figures.sh [map|map3d|robustness|robustness_coco|ood|crosseval|all]
#
# Timings in docs/generalization.md were measured with `uptime` load average < 0.5 before each step (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SHARED_DATA:-../shared/data}
OUT=${OUT:-posekit-generalization}
STEP=${1:-all}
PK=${POSEKIT:-.venv/bin/posekit}
mkdir -p docs/results docs/images

if [[ $STEP == map || $STEP == all ]]; then
    # ~47k poses of six datasets, 2D (the mocap projected through seeded virtual cameras), bone-length scale.
    uptime
    $PK datamap "COCO=$D/coco/person_keypoints_val2017_reconstructed.json" \
        "MPII=$D/mpii/deeppose_mpii_train_joints.csv" "LSP=$D/lsp" "LSPET=$D/lspet" \
        "PoseTrack18=$D/mmpose_testdata/tests/data/posetrack18/annotations/val" "CMU mocap=cmu:$D/mocap/cmu" \
        --scale bones --stride 8 --max-per-set 20000 --method both --out "$OUT/map2d"
    cp "$OUT/map2d/datamap.json" docs/results/datamap_2d.json
    cp "$OUT/map2d/coverage.json" docs/results/coverage_2d.json
    cp "$OUT/map2d/coverage.md" docs/results/coverage_2d.md
    cp "$OUT/map2d/map_umap.png" docs/images/datamap_2d_umap.png
    cp "$OUT/map2d/map_pca.png" docs/images/datamap_2d_pca.png
fi

if [[ $STEP == map3d || $STEP == all ]]; then
    # 3D root-relative, yaw removed: CMU's varied motions (subjects 01-03) vs its 94 walk cycles.
    $PK datamap "CMU 01-03 (varied)=cmu:$D/mocap/cmu#01_,02_,03_" "CMU walk cycles=cmu:$D/mocap/cmu#!01_,02_,03_" \
        --dim 3 --frame body --scale bones --stride 8 --method umap --out "$OUT/map3d"
    cp "$OUT/map3d/datamap.json" docs/results/datamap_3d.json
    cp "$OUT/map3d/coverage.md" docs/results/coverage_3d.md
    cp "$OUT/map3d/map_umap.png" docs/images/datamap_3d_umap.png
fi

if [[ $STEP == robustness || $STEP == all ]]; then
    # BlazePose full on the 1000 LSP test images, 12 corruptions x 5 severities (~1 min per cell on 2 idle cores).
    $PK robustness --model blazepose_full --dataset lsp --ann "$D/lsp" --batch-size 16 --no-progress \
        --out "$OUT/robustness/blazepose_full-lsp"
    cp "$OUT/robustness/blazepose_full-lsp/robustness.json" docs/results/robustness_blazepose_lsp.json
    cp "$OUT/robustness/blazepose_full-lsp/robustness.png" docs/images/robustness_blazepose_lsp.png
fi

if [[ $STEP == robustness_coco || $STEP == all ]]; then
    $PK robustness --model blazepose_full --dataset coco --ann "$D/coco/person_keypoints_train2017_fullgt_subset.json" \
        --images "$D/coco/train2017_subset" --batch-size 8 --no-progress --out "$OUT/robustness/blazepose_full-coco"
    cp "$OUT/robustness/blazepose_full-coco/robustness.json" docs/results/robustness_blazepose_coco.json
    cp "$OUT/robustness/blazepose_full-coco/robustness.png" docs/images/robustness_blazepose_coco.png
fi

if [[ $STEP == ood || $STEP == all ]]; then
    .venv/bin/python benchmarks/ood_vs_error.py
fi

if [[ $STEP == crosseval || $STEP == all ]]; then
    $PK crosseval --out "$OUT/crosseval"
    cp "$OUT/crosseval/crosseval.json" "$OUT/crosseval/crosseval.md" docs/results/
fi
