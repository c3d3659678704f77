#!/usr/bin/env bash
# MMPose 1.3.2 peer venv for posekit's benchmarks, CPU only: torch 2.13.0+cpu (the wheel in /opt/wheels), mmengine
# 0.10.7, mmcv 2.1.0 built from source WITHOUT ops (MMCV_WITH_OPS=0 -> dist name "mmcv-lite"), mmdet 3.2.0 (RTMPose's
# CSPNeXt backbone lives there), mmpretrain 1.2.0 (ViTPose's VisionTransformer lives there), and two stand-ins:
# mmcv/_ext.py (op names that raise if called) and a placeholder torchvision package (no CPU torchvision here).
set -euo pipefail
VENV=${1:-/tmp/peers/mmpose}
TORCH_WHEEL=$(ls /opt/wheels/torch-2.13.0+cpu-cp311-*.whl)
python3 -m venv "$VENV"
PIP="$VENV/bin/pip"
C="$VENV/constraints.txt"
printf 'torch==2.13.0\nnumpy<2\nsetuptools<81\n' > "$C"   # setuptools<81 keeps pkg_resources (mmcv's setup.py, mmengine)
"$PIP" install -c "$C" "$TORCH_WHEEL"                      # CPU wheel; its deps carry no CUDA packages
"$PIP" install -c "$C" 'setuptools>=77.0.3,<81' wheel mmengine==0.10.7 numpy==1.26.4 opencv-python==4.11.0.86
# mmcv 2.1.0 (mmpose 1.3.2 asserts 2.0.0 <= mmcv < 2.2.0) from the sdist, pure Python, against the torch above
DL=$(mktemp -d)
"$PIP" download --no-deps --no-build-isolation --no-binary :all: mmcv==2.1.0 -d "$DL"
MMCV_WITH_OPS=0 MAX_JOBS=1 "$PIP" install -c "$C" --no-build-isolation "$DL/mmcv-2.1.0.tar.gz"
# OpenMMLab packages without their declared deps (mmpose's would pull torchvision and chumpy; neither is used here)
"$PIP" install --no-deps mmpose==1.3.2 mmdet==3.2.0 mmpretrain==1.2.0
# what `from mmpose.apis import ...` and the three configs import
"$PIP" install -c "$C" json-tricks==3.17.3 munkres==3.0.0 scipy==1.17.1 xtcocotools==1.14.3 six==1.17.0 \
    pycocotools==2.0.11 shapely==2.2.0 terminaltables==3.1.10 tqdm==4.70.1 \
    einops==0.8.2 importlib-metadata==10.2.0 modelindex==0.0.2 mat4py==0.6.0
SP=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

# --- stand-in 1: mmcv/_ext.py -------------------------------------------------------------------------------------
cat > "$SP/mmcv/_ext.py" <<'PY'
"""Stand-in for mmcv's compiled ops (this mmcv is built with MMCV_WITH_OPS=0; added for posekit's benchmarks).

`mmpose.models` imports `mmcv.ops` at import time (MultiScaleDeformableAttention for ED-Pose), so `mmcv.ops` must
import; `mmcv.utils.ext_loader.load_ext` only checks that each op name exists. Every op here raises when called, so
a run that finishes proves it used none of them (the top-down models RTMPose, ViTPose and HRNet use none).
"""


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def _missing(*args, **kwargs):
        raise NotImplementedError(f'mmcv op {name!r}: mmcv was built without ops (MMCV_WITH_OPS=0)')

    _missing.__name__ = name
    return _missing
PY

# --- stand-in 2: torchvision (placeholders only) --------------------------------------------------------------------
mkdir -p "$SP/torchvision/transforms" "$SP/torchvision/ops"
cat > "$SP/torchvision/__init__.py" <<'PY'
"""Minimal torchvision stand-in for MMPose 1.3.2 / MMPretrain 1.2.0 on a machine with no CPU build of torchvision.

Written for posekit's benchmarks (benchmarks/README.md). It provides only the names that `mmpose.apis` and
`mmpretrain` (imported for ViTPose's `mmpretrain.VisionTransformer`) touch at import time; each callable raises
NotImplementedError, so a run that finishes proves none of them was used by inference. Anything else is absent and
fails loudly with ImportError/AttributeError.
"""

__version__ = '0.0.0+posekit-shim'


def _unavailable(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f'torchvision shim: {name} is not available (no torchvision on this machine)')

    fn.__name__ = name.rsplit('.', 1)[-1]
    return fn
PY
cat > "$SP/torchvision/transforms/__init__.py" <<'PY'
"""`torchvision.transforms`: the classes MMPose/MMPretrain subclass or import at module level (placeholders)."""

from .transforms import InterpolationMode, RandomResizedCrop, ToPILImage

__all__ = ['InterpolationMode', 'RandomResizedCrop', 'ToPILImage']
PY
cat > "$SP/torchvision/transforms/transforms.py" <<'PY'
"""Placeholders: mmpose/visualization/simcc_vis.py imports ToPILImage; mmpretrain/datasets/transforms/processing.py
reads InterpolationMode members and subclasses RandomResizedCrop at import time. Constructing a transform raises."""

from enum import Enum


class InterpolationMode(Enum):
    NEAREST = 'nearest'
    NEAREST_EXACT = 'nearest-exact'
    BILINEAR = 'bilinear'
    BICUBIC = 'bicubic'
    BOX = 'box'
    HAMMING = 'hamming'
    LANCZOS = 'lanczos'


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f'torchvision shim: {type(self).__name__} is not available (no torchvision here)')


class ToPILImage(_Unavailable):
    pass


class RandomResizedCrop(_Unavailable):
    pass
PY
cat > "$SP/torchvision/transforms/functional.py" <<'PY'
"""Empty: mmpretrain imports `torchvision.transforms.functional as F` at module level and uses it only in transforms
that inference does not run, so any attribute access fails with AttributeError."""
PY
cat > "$SP/torchvision/ops/__init__.py" <<'PY'
"""`torchvision.ops`: only the `boxes` submodule that mmpretrain imports at module level."""
PY
cat > "$SP/torchvision/ops/boxes.py" <<'PY'
"""Placeholders for the two box functions mmpretrain's visual-grounding code references (called only in training)."""

from .. import _unavailable

box_iou = _unavailable('torchvision.ops.boxes.box_iou')
generalized_box_iou = _unavailable('torchvision.ops.boxes.generalized_box_iou')
PY

"$VENV/bin/python" -W ignore -c "
import torch, mmcv, mmengine, mmdet, mmpretrain, mmpose
from mmpose.apis import inference_topdown, init_model
import mmpretrain.utils; mmpretrain.utils.register_all_modules(init_default_scope=False)
print('torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmengine', mmengine.__version__, 'mmdet', mmdet.__version__,
      'mmpretrain', mmpretrain.__version__, 'mmpose', mmpose.__version__)"
