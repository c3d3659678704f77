"""The one registry of public model names: :func:`create_model`, :func:`list_models`.

The table itself is plain data in :mod:`posekit.models.zoo`; this module only looks names up in it.
"""

from __future__ import annotations

import difflib
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
        task: what it estimates: ``"body"``, ``"hand"``, ``"face"``, ``"lift3d"``.
        skeleton: the keypoint layout of its output.
        description: one line for ``posekit models``.
        build_model: ``(**kwargs) -> nn.Module`` the network alone (``weights=`` a local checkpoint path where
            the family supports it).
        build_estimator: ``(**kwargs) -> PoseEstimator`` the end-to-end pipeline, or ``None``.
        offline: whether pretrained weights are reachable without an account (MediaPipe wheel from PyPI).
        license: license of the pretrained weights.
    """

    name: str
    task: str
    skeleton: Skeleton
    description: str
    build_model: Callable[..., Any]
    build_estimator: Callable[..., Any] | None = None
    offline: bool = False
    license: str = ""


@lru_cache(maxsize=1)
def _table() -> dict[str, ModelEntry]:
    from posekit.models.zoo import MODELS

    table: dict[str, ModelEntry] = {}
    for entry in MODELS:
        if entry.name in table:
            raise RuntimeError(f"model name {entry.name!r} is registered twice in posekit.models.zoo")
        table[entry.name] = entry
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
