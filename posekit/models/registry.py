"""The one registry of public model names: :func:`create_model`, :func:`list_models`, :func:`get_entry`.

Every model family is one module holding its builder, its pretrained configs as data and a ``MODELS`` tuple of
:class:`ModelEntry` (its registration). :data:`FAMILIES` names those modules; the registry imports them and
collects their entries on first use. Importing a family module only defines data (no weights are read, torch is
not imported), so :func:`list_models` stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from posekit.skeletons import Skeleton


@dataclass(frozen=True)
class ModelEntry:
    """One public model name.

    Attributes:
        name: the public name, e.g. ``"blazepose_full"``.
        task: what it estimates: ``"body"``, ``"wholebody"`` (COCO-WholeBody 133), ``"hand"``, ``"face"``,
            ``"animal"``, ``"lift3d"``, or ``"detect"`` (a detector: :func:`posekit.detect.create_detector` builds
            it).
        skeleton: the keypoint layout of its output (``None`` for a detector).
        description: one line for ``posekit models``.
        build_model: ``(**kwargs) -> nn.Module`` the network alone (``weights=`` a local checkpoint path where
            the family supports it).
        offline: whether pretrained weights are reachable without an account (MediaPipe wheel from PyPI).
        license: license of the pretrained weights.
        weights: the official checkpoint (:class:`~posekit.models.weights.WeightsSpec`: URL, sha256, input size)
            of a model that downloads one (``None``: built-in weights, e.g. MediaPipe's and the npm packages').
    """

    name: str
    task: str
    skeleton: Skeleton | None
    description: str
    build_model: Callable[..., Any]
    offline: bool = False
    license: str = ""
    weights: Any = None


# The family modules whose ``MODELS`` make up the registry (each name registered exactly once).
FAMILIES: tuple[str, ...] = (
    "posekit.models.mediapipe",
    "posekit.models.npm_models",
    "posekit.models.simplebaseline",
    "posekit.models.hrnet",
    "posekit.models.vitpose",
    "posekit.models.rtmpose",
    "posekit.models.rtmw",
    "posekit.models.rtmo_zoo",
    "posekit.models.detector_zoo",
    "posekit.models.lifters.zoo",
)


@lru_cache(maxsize=1)
def _table() -> dict[str, ModelEntry]:
    table: dict[str, ModelEntry] = {}
    owner: dict[str, str] = {}
    for module in FAMILIES:
        for entry in importlib.import_module(module).MODELS:
            if entry.name in table:
                raise RuntimeError(f"model name {entry.name!r} is registered twice ({owner[entry.name]}, {module})")
            table[entry.name] = entry
            owner[entry.name] = module
    return table


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; unknown names raise ``KeyError`` with the closest known names."""
    table = _table()
    if name not in table:
        close = difflib.get_close_matches(name, table, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}{hint} (posekit.list_models() lists {len(table)} names)")
    return table[name]


def list_models(*, task: str | None = None) -> list[str]:
    """Sorted public model names, optionally only those of one ``task`` (``body``, ``hand``, ``face``, ...)."""
    return sorted(n for n, e in _table().items() if task is None or e.task == task)


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the network registered as ``name`` (an ``nn.Module`` in eval mode).

    ``kwargs`` go to the family's builder, e.g. ``weights="path/to/official.pth"`` or ``device="cuda"``.
    """
    return get_entry(name).build_model(**kwargs)
