"""Official MMPose top-down checkpoints as registry entries: the row type of every top-down family's table.

A top-down family module (:mod:`~posekit.models.simplebaseline`, :mod:`~posekit.models.hrnet`,
:mod:`~posekit.models.vitpose`, :mod:`~posekit.models.rtmpose`) lists its official checkpoints as one tuple of
:class:`MMPoseCheckpoint` rows and registers each with :func:`topdown_entry`, which turns the row into a
:class:`TopdownEntry`: a :class:`~posekit.models.weights.WeightsSpec` plus ``build_model`` (the end-to-end estimator
of these names is built by :mod:`posekit.pipelines.registry`).

Published metrics come from MMPose's model-zoo tables (see :class:`MMPoseCheckpoint`). The full sha256 of the
files is not known here (they cannot be downloaded in this environment); OpenMMLab file names end with the first 8
hex digits of the file's sha256 (``...-04af38ce_20220923.pth``), and that prefix is stored and verified as a prefix.
A few official files carry no such tag (RTMW-m/l: ``...-256x192-20231122.pth``; hand5's 7-digit ``-74fb594_``):
their ``sha256`` is ``None`` and they are never downloaded automatically; a user's copy (``weights=``) is checked by
strict loading.

Nothing heavy is imported here: torch and the family builders load when a model is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from posekit import skeletons
from posekit.models.registry import ModelEntry
from posekit.models.weights import IMAGENET_MEAN, IMAGENET_STD, WeightsSpec, fetch_pretrained
from posekit.skeletons import Skeleton

__all__ = ["MMPOSE_URL", "MMPoseCheckpoint", "TopdownEntry", "topdown_entry"]

MMPOSE_URL = "https://download.openmmlab.com/mmpose/"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8})_\d{8}\.pth$")
_LICENSE = "Apache-2.0 (OpenMMLab model zoo)"


@dataclass(frozen=True)
class MMPoseCheckpoint:
    """One official MMPose top-down checkpoint: one row of a family's table, one public model name.

    Attributes:
        name: the public model name, e.g. ``"rtmpose_t_coco_256x192"``.
        description: one line for ``posekit models``.
        url: the official checkpoint file; its name ends with ``-<sha256[:8]>_<date>.pth``.
        sha256: the first 8 hex digits of the file's sha256 (the tag in the file name), verified as a prefix;
            ``None`` when the file name carries no 8-digit tag (no automatic download).
        config: the MMPose 1.x config name (also the name of the layout manifest in the fixtures).
        metrics: published accuracy as fractions: ``coco_ap`` = AP on COCO val2017 (person detector of 56.4 AP),
            ``mpii_pckh`` = PCKh@0.5 and ``mpii_pckh_0.1`` = PCKh@0.1 on MPII val; ``wholebody_ap`` /
            ``wholebody_ar`` / ``body_ap`` / ``foot_ap`` / ``face_ap`` / ``hand_ap`` on COCO-WholeBody val;
            ``ap10k_ap`` on AP-10K val; ``pck0.2`` / ``auc`` (fractions) and ``epe`` (pixels) on the hand test sets.
        args: keyword arguments of the family builder that select this architecture (``{"depth": 50}``,
            ``{"arch": "base", "decoder": "simple"}``, ...).
        codec: the codec settings in words (``WeightsSpec.meta["codec"]``).
        flip: the test-time flip settings in words (``WeightsSpec.meta["flip_test"]``).
        input_size: model input ``(width, height)`` in pixels.
        skeleton: keypoint layout of the output.
        mean, std: per-channel input normalisation ``(rgb - mean) / std``, RGB on the 0-255 scale.
        notes: free text (checkpoint layout, caveats).
        task: what it estimates (:attr:`~posekit.models.registry.ModelEntry.task`): ``"body"``, ``"wholebody"``,
            ``"hand"`` or ``"animal"``; the end-to-end pipeline picks its default detector by it.
    """

    name: str
    description: str
    url: str
    sha256: str | None
    config: str
    metrics: Mapping[str, float]
    args: Mapping[str, Any]
    codec: str
    flip: str
    input_size: tuple[int, int] = (192, 256)
    skeleton: Skeleton = skeletons.coco17
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    notes: str = ""
    task: str = "body"

    @property
    def filename(self) -> str:
        """The checkpoint's file name (the last part of :attr:`url`)."""
        return self.url.rsplit("/", 1)[-1]

    def weights_spec(self) -> WeightsSpec:
        """The row as a :class:`WeightsSpec`; ``meta`` holds config, metrics, codec, skeleton name and flip test."""
        match = _HASH_IN_NAME.search(self.filename)
        if self.sha256 is not None and (match is None or match.group(1) != self.sha256[:8]):
            raise ValueError(f"{self.name}: checkpoint file name {self.filename!r} does not carry sha256 prefix "
                             f"{self.sha256!r}")
        return WeightsSpec(
            url=self.url, sha256=self.sha256, filename=self.filename, input_size=self.input_size, mean=self.mean,
            std=self.std, license="Apache-2.0", source=f"https://github.com/open-mmlab/mmpose ({self.config})",
            notes=self.notes,
            meta={"config": self.config, "metrics": dict(self.metrics), "codec": self.codec,
                  "skeleton": self.skeleton.name, "flip_test": self.flip},
        )


@dataclass(frozen=True)
class TopdownEntry(ModelEntry):
    """The :class:`~posekit.models.registry.ModelEntry` of a top-down network (the estimator registry runs it on
    person boxes); ``weights`` is the official checkpoint's :class:`WeightsSpec`."""


def topdown_entry(row: MMPoseCheckpoint, family: Callable[[MMPoseCheckpoint], Any]) -> TopdownEntry:
    """Register ``row``: ``family(row) -> (TopdownModel, TopdownSpec)`` builds its network (random weights)."""
    spec = row.weights_spec()
    build_model = _builder(lambda: family(row), spec, row.name)
    return TopdownEntry(row.name, row.task, row.skeleton, row.description, build_model, offline=False,
                        license=_LICENSE, weights=spec)


def _builder(family: Callable[[], Any], base: WeightsSpec, name: str) -> Callable[..., Any]:
    """``build_model`` of a top-down configuration with official weights ``base``."""

    def build_model(*, weights: Any = None, pretrained: bool = False, check_sha256: bool = False,
                    device: str = "cpu") -> Any:
        """The network in eval mode with ``model.spec`` (a TopdownSpec) attached.

        ``weights``: path to an official checkpoint (MMPose 1.x / 0.x / original ViTPose layout), loaded strictly;
        ``check_sha256=True`` also checks it against the official file's hash prefix (where one is published). Without ``weights``:
        ``pretrained=True`` downloads the official file (verified) into the cache, else random initialisation.
        """
        from posekit.models.topdown import load_weights

        model, spec = family()
        if weights is None and pretrained:
            weights = fetch_pretrained(base, what=name)  # offline: names the URL and --weights
        if weights is not None:
            load_weights(model, weights, sha256=base.sha256 if check_sha256 else None)
        model.spec = spec  # test-time settings travel with the network
        return model.to(device).eval()

    return build_model
