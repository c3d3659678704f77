"""The model table: every public model name, its skeleton and how to build it.

Builders import their family lazily so that ``import posekit`` stays light.

Top-down entries (:class:`TopdownEntry`) carry their official MMPose checkpoint as a
:class:`~posekit.models._weights.WeightsSpec`: URL, sha256, input size, mean/std (RGB, 0-255), license and in
``meta`` the codec, skeleton, flip-test settings, the MMPose config and the published metric (COCO val2017 AP with
a person detector of 56.4 AP, MMPose's model-zoo tables; MPII: PCKh@0.5). The sha256 of these files is not known
here (they cannot be downloaded in this environment); OpenMMLab file names end with the first 8 hex digits of
the file's sha256 (``...-04af38ce_20220923.pth``), and that prefix is stored and verified as a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from posekit import skeletons
from posekit.models._mediapipe_wheel import (
    FACE_LANDMARK, HAND_LANDMARK_FULL, HAND_LANDMARK_LITE, POSE_LANDMARK_FULL, TFLiteAsset, load_mediapipe_module,
)
from posekit.models._registry import ModelEntry
from posekit.models._weights import WeightsSpec


def _mediapipe_module(asset: TFLiteAsset) -> Any:
    def build(*, device: str = "cpu", wheel: str | None = None) -> Any:
        return load_mediapipe_module(asset, wheel=wheel).to(device).eval()

    return build


def _blazepose_full(**kwargs: Any) -> Any:
    from posekit.pipelines.mediapipe_pose import blazepose_full

    return blazepose_full(**kwargs)


def _hand(variant: str) -> Any:
    def build(**kwargs: Any) -> Any:
        from posekit.pipelines.mediapipe_hand import mediapipe_hand

        return mediapipe_hand(variant=variant, **kwargs)

    return build


def _face_mesh(**kwargs: Any) -> Any:
    from posekit.pipelines.mediapipe_face import mediapipe_face_mesh

    return mediapipe_face_mesh(**kwargs)


_MP_LICENSE = "Apache-2.0 (MediaPipe model cards)"


# ------------------------------------------------------------------------------------------------- top-down


@dataclass(frozen=True)
class TopdownEntry(ModelEntry):
    """A :class:`ModelEntry` with the official checkpoint's :class:`WeightsSpec`."""

    weights: WeightsSpec | None = None


_MMPOSE = "https://download.openmmlab.com/mmpose/"
_TD = _MMPOSE + "v1/body_2d_keypoint/topdown_heatmap/coco/"
_RTM = _MMPOSE + "v1/projects/rtmposev1/"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8})(?:_\d{8})?\.pth$")
_MEAN = (123.675, 116.28, 103.53)
_STD = (58.395, 57.12, 57.375)


def load_weights(model: Any, path: Any, *, sha256: str | None = None) -> None:
    """Load an official checkpoint file into ``model`` strictly (``torch.load(weights_only=True)``).

    The key layout is recognised from the keys (MMPose 1.x, MMPose 0.x ``keypoint_head.``, original ViTPose; see
    :func:`posekit.models._convert.guess_source`). ``sha256`` (full or a prefix of >= 8 hex digits), when given,
    is checked first. Raises ``ValueError`` naming the file and every missing / unexpected / mis-shaped key,
    :class:`~posekit.models._weights.ChecksumError` on a hash mismatch.
    """
    from posekit.models._convert import guess_source, load_official
    from posekit.models._weights import load_checkpoint, verify_sha256

    if sha256 is not None:
        verify_sha256(path, sha256)
    state = load_checkpoint(path)
    source = guess_source(state)
    try:
        load_official(model, state, source=source)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _topdown(family: Callable[[], Any], base: WeightsSpec) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(build_model, build_estimator)`` for one top-down configuration with official weights ``base``."""

    def build_model(*, weights: Any = None, pretrained: bool = False, check_sha256: bool = False,
                    device: str = "cpu") -> Any:
        """The network in eval mode with ``model.spec`` (a TopdownSpec) attached.

        ``weights``: path to an official checkpoint (MMPose 1.x / 0.x / original ViTPose layout), loaded strictly;
        ``check_sha256=True`` also checks it against the official file's hash prefix. Without ``weights``:
        ``pretrained=True`` downloads the official file (verified) into the cache, else random initialisation.
        """
        from posekit.models._weights import fetch_weights

        model, spec = family()
        if weights is None and pretrained:
            weights = fetch_weights(base)
        if weights is not None:
            load_weights(model, weights, sha256=base.sha256 if check_sha256 else None)
        model.spec = spec  # test-time settings travel with the network
        return model.to(device).eval()

    def build_estimator(*, weights: Any = None, device: str = "cpu", detector: Any = None, **options: Any) -> Any:
        """:class:`~posekit.pipelines.topdown.TopDownEstimator` with the official (or ``weights``) checkpoint;
        ``detector`` defaults to the BlazePose person detector, built on first use (not needed for caller boxes)."""
        from posekit.pipelines.topdown import TopDownEstimator, _LazyDetector

        model = build_model(weights=weights, pretrained=weights is None, device=device)
        if detector is None:
            from posekit.detect.mediapipe import blazepose_detector

            detector = _LazyDetector(lambda: blazepose_detector(device=device))
        return TopDownEstimator(model, detector, **options)

    return build_model, build_estimator


def _sb(depth: int, *, k: str = "coco") -> Callable[[], Any]:
    def family() -> Any:
        from posekit.models._families import simplebaseline

        if k == "mpii":
            return simplebaseline(depth, input_size=(256, 256), skeleton=skeletons.mpii16)
        return simplebaseline(depth)

    return family


def _hrnet(width: int, input_size: tuple[int, int], sigma: float) -> Callable[[], Any]:
    def family() -> Any:
        from posekit.models._families import hrnet_topdown

        return hrnet_topdown(width, input_size=input_size, sigma=sigma)

    return family


def _vitpose(arch: str, decoder: str) -> Callable[[], Any]:
    def family() -> Any:
        from posekit.models._families import vitpose

        return vitpose(arch, decoder=decoder)

    return family


def _rtmpose(size: str) -> Callable[[], Any]:
    def family() -> Any:
        from posekit.models._families import rtmpose

        return rtmpose(size)

    return family


def _entry(name: str, skeleton: Any, description: str, family: Callable[[], Any], url: str, config: str,
           metric: dict[str, float], *, input_size: tuple[int, int] = (192, 256), codec: str, flip: str,
           notes: str = "") -> TopdownEntry:
    filename = url.rsplit("/", 1)[-1]
    match = _HASH_IN_NAME.search(filename)
    if match is None:
        raise ValueError(f"no sha256 prefix in checkpoint file name {filename!r}")
    spec = WeightsSpec(
        url=url, sha256=match.group(1), filename=filename, input_size=input_size, mean=_MEAN, std=_STD,
        license="Apache-2.0", source=f"https://github.com/open-mmlab/mmpose ({config})", notes=notes,
        meta={"config": config, "metrics": metric, "codec": codec, "skeleton": skeleton.name, "flip_test": flip},
    )
    build_model, build_estimator = _topdown(family, spec)
    return TopdownEntry(name, "body", skeleton, description, build_model, build_estimator, offline=False,
                        license="Apache-2.0 (OpenMMLab model zoo)", weights=spec)


_MSRA = "MSRAHeatmap(input/4, sigma={s})"
_FLIP_SHIFT = "flip_test, shift_heatmap"
_UDP = "UDPHeatmap((192, 256), (48, 64), sigma=2); UDP crops"
_SIMCC = "SimCC((192, 256), sigma=(4.9, 5.66), split 2.0, normalize=False)"
_VIT_HASH = {
    ("small", "classic"): "62d7a712_20230314", ("base", "classic"): "216eae50_20230314",
    ("large", "classic"): "53609f55_20230314", ("huge", "classic"): "e32adcd4_20230314",
    ("small", "simple"): "4c101a76_20230314", ("base", "simple"): "0b8234ea_20230407",
    ("large", "simple"): "3a7ee9e1_20230314", ("huge", "simple"): "ffd48c05_20230314",
}
_VIT_AP = {
    ("small", "classic"): 0.739, ("base", "classic"): 0.757, ("large", "classic"): 0.782,
    ("huge", "classic"): 0.788, ("small", "simple"): 0.736, ("base", "simple"): 0.756,
    ("large", "simple"): 0.781, ("huge", "simple"): 0.789,
}
_RTM_FILES = {
    "t": "rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth",
    "s": "rtmpose-s_simcc-coco_pt-aic-coco_420e-256x192-8edcf0d7_20230127.pth",
    "m": "rtmpose-m_simcc-coco_pt-aic-coco_420e-256x192-d8dd5ca4_20230127.pth",
    "l": "rtmpose-l_simcc-coco_pt-aic-coco_420e-256x192-1352a4d2_20230127.pth",
}
_RTM_AP = {"t": 0.682, "s": 0.716, "m": 0.746, "l": 0.758}
_VIT_NAMES = {"small": "s", "base": "b", "large": "l", "huge": "h"}


def _topdown_entries() -> tuple[TopdownEntry, ...]:
    coco = skeletons.coco17
    out = [
        _entry("simplebaseline_res50_coco_256x192", coco, "SimpleBaseline ResNet-50, COCO, 256x192 (MMPose)",
               _sb(50), _TD + "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth",
               "td-hm_res50_8xb64-210e_coco-256x192", {"coco_ap": 0.718}, codec=_MSRA.format(s=2), flip=_FLIP_SHIFT),
        _entry("simplebaseline_res101_coco_256x192", coco, "SimpleBaseline ResNet-101, COCO, 256x192 (MMPose)",
               _sb(101), _TD + "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth",
               "td-hm_res101_8xb64-210e_coco-256x192", {"coco_ap": 0.728}, codec=_MSRA.format(s=2),
               flip=_FLIP_SHIFT),
        _entry("hrnet_w32_coco_256x192", coco, "HRNet-W32, COCO, 256x192 (MMPose)", _hrnet(32, (192, 256), 2.0),
               _TD + "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
               "td-hm_hrnet-w32_8xb64-210e_coco-256x192", {"coco_ap": 0.749}, codec=_MSRA.format(s=2),
               flip=_FLIP_SHIFT),
        _entry("hrnet_w48_coco_384x288", coco, "HRNet-W48, COCO, 384x288 (MMPose)", _hrnet(48, (288, 384), 3.0),
               _TD + "td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth",
               "td-hm_hrnet-w48_8xb32-210e_coco-384x288", {"coco_ap": 0.767}, input_size=(288, 384),
               codec=_MSRA.format(s=3), flip=_FLIP_SHIFT),
        _entry("simplebaseline_res50_mpii_256x256", skeletons.mpii16,
               "SimpleBaseline ResNet-50, MPII, 256x256 (MMPose 0.x checkpoint, keypoint_head. keys)",
               _sb(50, k="mpii"), _MMPOSE + "top_down/resnet/res50_mpii_256x256-418ffc88_20200812.pth",
               "td-hm_res50_8xb64-210e_mpii-256x256", {"mpii_pckh": 0.882, "mpii_pckh_0.1": 0.286},
               input_size=(256, 256), codec=_MSRA.format(s=2), flip=_FLIP_SHIFT,
               notes="MMPose 0.x checkpoint: 'keypoint_head.' keys, remapped on load"),
    ]
    for (arch, decoder), tag in _VIT_HASH.items():
        suffix = "-simple" if decoder == "simple" else ""
        config = f"td-hm_ViTPose-{arch}{suffix}_8xb64-210e_coco-256x192"
        short = _VIT_NAMES[arch]
        name = f"vitpose_{short}_simple_coco_256x192" if decoder == "simple" else f"vitpose_{short}_coco_256x192"
        out.append(_entry(name, coco, f"ViTPose-{short.upper()} ({decoder} decoder), COCO, 256x192 (MMPose)",
                          _vitpose(arch, decoder), f"{_TD}{config}-{tag}.pth", config,
                          {"coco_ap": _VIT_AP[arch, decoder]}, codec=_UDP, flip="flip_test"))
    for size, filename in _RTM_FILES.items():
        out.append(_entry(f"rtmpose_{size}_coco_256x192", coco,
                          f"RTMPose-{size} (CSPNeXt + SimCC), COCO (AIC pretraining), 256x192 (MMPose)",
                          _rtmpose(size), _RTM + filename, f"rtmpose-{size}_8xb256-420e_coco-256x192",
                          {"coco_ap": _RTM_AP[size]}, codec=_SIMCC, flip="flip_test"))
    return tuple(out)


# ------------------------------------------------------------------------------------------------- 2D -> 3D


def _simplebaseline3d(**kwargs: Any) -> Any:
    from posekit.models.lifters.mlp import simplebaseline3d

    return simplebaseline3d(**kwargs)


def _videopose3d(receptive_field: int) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        from posekit.models.lifters.temporal import videopose3d

        return videopose3d(receptive_field=receptive_field, **kwargs)

    return build


_H36M_LICENSE = "MMPose (Apache-2.0) weights trained on Human3.6M: research use only"


def _lifter_entries() -> tuple[ModelEntry, ...]:
    out = [ModelEntry(
        "simplebaseline3d_h36m", "lift3d", skeletons.h36m17,
        "SimpleBaseline3D residual MLP, 1 frame -> root-relative 3D (MMPose layout; weights=official .pth)",
        _simplebaseline3d, license=_H36M_LICENSE,
    )]
    for rf in (27, 81, 243):
        out.append(ModelEntry(
            f"videopose3d_{rf}f_h36m", "lift3d", skeletons.h36m17,
            f"VideoPose3D dilated temporal convolutions, {rf}-frame window -> root-relative 3D",
            _videopose3d(rf), license=_H36M_LICENSE,
        ))
    return tuple(out)


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "blazepose_full", "body", skeletons.blazepose33,
        "BlazePose GHUM full: person detector + 33 landmarks + 3D world landmarks (MediaPipe 0.10.14)",
        _mediapipe_module(POSE_LANDMARK_FULL), _blazepose_full, offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_full", "hand", skeletons.hand21,
        "MediaPipe palm detector (full) + 21 hand landmarks (full) with handedness",
        _mediapipe_module(HAND_LANDMARK_FULL), _hand("full"), offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_lite", "hand", skeletons.hand21,
        "MediaPipe palm detector (lite) + 21 hand landmarks (lite) with handedness",
        _mediapipe_module(HAND_LANDMARK_LITE), _hand("lite"), offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_face_mesh", "face", skeletons.mediapipe_face468,
        "MediaPipe face detector (short range) + 468-landmark face mesh",
        _mediapipe_module(FACE_LANDMARK), _face_mesh, offline=True, license=_MP_LICENSE,
    ),
    *_topdown_entries(),
    *_lifter_entries(),
)
