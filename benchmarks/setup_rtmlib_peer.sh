#!/usr/bin/env bash
# rtmlib peer venv for posekit's benchmarks: rtmlib 0.0.16 + onnxruntime 1.32.0 (same as posekit's venv), no torch.
set -euo pipefail
VENV=${1:-/tmp/peers/rtmlib}
python3 -m venv "$VENV"
printf 'torch==2.13.0\nonnxruntime==1.32.0\n' > "$VENV/constraints.txt"   # nothing here may pull another torch
"$VENV/bin/pip" install -c "$VENV/constraints.txt" rtmlib==0.0.16 onnxruntime==1.32.0 numpy==2.4.6 \
    opencv-python==5.0.0.93 opencv-contrib-python==5.0.0.93
"$VENV/bin/python" -c "import importlib.metadata as m, onnxruntime, rtmlib; print('rtmlib', m.version('rtmlib'), 'onnxruntime', onnxruntime.__version__)"
