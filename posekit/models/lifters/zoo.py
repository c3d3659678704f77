"""The 2D -> 3D lifters' public names and their official MMPose checkpoints, as data.

* ``simplebaseline3d_h36m`` -- :func:`posekit.models.lifters.mlp.simplebaseline3d`, one frame.
* ``videopose3d_{27,81,243}f_h36m`` -- :func:`posekit.models.lifters.temporal.videopose3d` with that receptive
  field (frames). :data:`DEFAULT_LIFTER` (``videopose3d_243f_h36m``) is what ``posekit lift`` uses without
  ``--model``.

Each name has one official checkpoint (:data:`CHECKPOINTS`): MMPose's supervised Human3.6M models (ground-truth
2D input during training), in the MMPose 0.x layout (``keypoint_head.*`` keys, read by
:func:`posekit.models.lifters.convert.load_lifter_weights`). File names end with the first 8 hex digits of the
file's sha256, which is what is pinned and verified. ``create_model(name, pretrained=True)`` downloads the file
into ``<cache>/checkpoints/`` on first use; **the weights are trained on Human3.6M, whose license allows
research use only**: the download message and :data:`LICENSE` say so. ``weights=`` takes a local file instead
(MMPose 1.x / 0.x or original VideoPose3D layout). Torch loads when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from posekit import skeletons
from posekit.models.registry import ModelEntry
from posekit.models.weights import WeightsSpec, fetch_pretrained

__all__ = ["DEFAULT_LIFTER", "LICENSE", "LifterCheckpoint", "LifterEntry", "CHECKPOINTS", "MODELS"]

DEFAULT_LIFTER = "videopose3d_243f_h36m"
LICENSE = "MMPose (Apache-2.0) weights trained on Human3.6M: research use only"
_URL = "https://download.openmmlab.com/mmpose/body3d/"


@dataclass(frozen=True)
class LifterCheckpoint:
    """One official MMPose lifter checkpoint: one row of :data:`CHECKPOINTS`, one public model name.

    Attributes:
        name: the public model name, e.g. ``"videopose3d_243f_h36m"``.
        description: one line for ``posekit models``.
        url: the official file; its name carries the first 8 hex digits of its sha256.
        sha256: those 8 digits, verified as a prefix.
        config: the MMPose 1.x config of the same architecture (the name of the layout manifest in the fixtures).
        normalization: the 2D input normalisation the weights expect (``"screen"``: VideoPose3D, ``"mean_std"``:
            SimpleBaseline3D; see :class:`posekit.lift.pipeline.Lifter`).
        mpjpe_mm: published Human3.6M MPJPE in millimetres (protocol 1, ground-truth 2D input).
        args: keyword arguments of the builder that select this architecture.
    """

    name: str
    description: str
    url: str
    sha256: str
    config: str
    normalization: str
    mpjpe_mm: float
    args: Mapping[str, Any] = field(default_factory=dict)

    def weights_spec(self) -> WeightsSpec:
        """The row as a :class:`WeightsSpec` (no image input: ``input_size`` None, no mean/std)."""
        filename = self.url.rsplit("/", 1)[-1]
        if f"-{self.sha256}_" not in filename:
            raise ValueError(f"{self.name}: {filename!r} does not carry sha256 prefix {self.sha256!r}")
        return WeightsSpec(
            url=self.url, sha256=self.sha256, filename=filename, license=LICENSE,
            source=f"https://github.com/open-mmlab/mmpose ({self.config})",
            notes="MMPose 0.x layout (keypoint_head.* keys); outputs root-relative metres, h36m17",
            meta={"config": self.config, "normalization": self.normalization, "mpjpe_mm": self.mpjpe_mm,
                  "skeleton": "h36m17"},
        )


CHECKPOINTS: tuple[LifterCheckpoint, ...] = (
    LifterCheckpoint(
        "simplebaseline3d_h36m", "SimpleBaseline3D residual MLP, 1 frame -> root-relative 3D (MMPose layout)",
        _URL + "simple_baseline/simple3Dbaseline_h36m-f0ad73a4_20210419.pth", "f0ad73a4",
        "image-pose-lift_tcn_8xb64-200e_h36m", "mean_std", 43.4),
    *(LifterCheckpoint(
        f"videopose3d_{rf}f_h36m",
        f"VideoPose3D dilated temporal convolutions, {rf}-frame window -> root-relative 3D",
        _URL + f"videopose/videopose_h36m_{rf}frames_fullconv_supervised-{sha}_20210527.pth", sha,
        f"video-pose-lift_tcn-{rf}frm-supv_8xb128-160e_h36m", "screen", mpjpe, {"receptive_field": rf})
      for rf, sha, mpjpe in ((27, "fe8fbba9", 40.1), (81, "1f2d1104", 39.1), (243, "880bea25", 37.6))),
)


@dataclass(frozen=True)
class LifterEntry(ModelEntry):
    """The :class:`~posekit.models.registry.ModelEntry` of a 2D -> 3D lifter; ``weights`` is the official
    checkpoint's :class:`WeightsSpec`."""


def _network(row: LifterCheckpoint, kwargs: Mapping[str, Any]) -> Any:
    if row.name.startswith("simplebaseline3d"):
        from posekit.models.lifters.mlp import simplebaseline3d

        return simplebaseline3d(**row.args, **kwargs)
    from posekit.models.lifters.temporal import videopose3d

    return videopose3d(**row.args, **kwargs)


def _builder(row: LifterCheckpoint, spec: WeightsSpec) -> Callable[..., Any]:
    def build_model(*, weights: Any = None, pretrained: bool = False, progress: bool = True, **kwargs: Any) -> Any:
        """The lifter in eval mode (outputs in metres, h36m17).

        ``weights``: a local checkpoint (MMPose 1.x / 0.x or original VideoPose3D layout), loaded strictly.
        Without it, ``pretrained=True`` downloads the official file (verified, cached; Human3.6M weights:
        research use only), else random initialisation. Other keyword arguments go to the builder
        (``device=``, ``causal=``, ...). An unreachable download raises
        :class:`~posekit.models.weights.WeightsError` naming the URL, the hash and ``--weights PATH``.
        """
        if weights is None and pretrained:
            weights = fetch_pretrained(spec, what=f"lifter {row.name}", progress=progress)
        return _network(row, {**kwargs, "weights": weights})

    return build_model


MODELS: tuple[LifterEntry, ...] = tuple(
    LifterEntry(row.name, "lift3d", skeletons.h36m17, row.description, _builder(row, row.weights_spec()),
                license=LICENSE, weights=row.weights_spec())
    for row in CHECKPOINTS
)
