"""Converted networks cached as safetensors: the graph spec and weights a converter made from a pinned source file.

A converter (:mod:`posekit.models.tflite`, :mod:`posekit.models.tfjs`) turns a source file into a JSON layer spec and
float32 tensors; the cache file holds both (the spec in the safetensors metadata) with the source's sha256 and the
posekit and converter versions, so a cache made from another file, or by another converter version, is detected and
re-converted instead of being trusted. Files are written atomically (temporary file + ``os.replace``).

The source is anything with ``member`` (what file it was, for messages) and ``sha256`` (its pinned hash):
:class:`posekit.models.mediapipe_wheel.TFLiteAsset`, :class:`posekit.models.npm_models.NpmAsset`.
"""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from posekit.io.atomic import atomic_writer
from posekit.models.weights import WeightsError

if TYPE_CHECKING:
    import torch

__all__ = ["Source", "StaleCacheError", "check_cache", "converter_version", "read_converted", "save_converted"]

_META_SPEC, _META_SOURCE = "posekit.graph_spec", "posekit.source_sha256"
_META_MEMBER, _META_POSEKIT, _META_CONVERTER = "posekit.source_member", "posekit.version", "posekit.converter_version"


class Source(Protocol):
    """A pinned source file: ``member`` names it in messages, ``sha256`` is its pinned hash."""

    @property
    def member(self) -> str: ...

    @property
    def sha256(self) -> str: ...


class StaleCacheError(WeightsError):
    """A converted cache file is unreadable or does not match the pinned source / current converter."""


def _posekit_version() -> str:
    try:
        return version("posekit")
    except PackageNotFoundError:
        return "unknown"


def converter_version(converter: Any) -> str:
    """``CONVERTER_VERSION`` if the converter module defines one, else its spec format (``posekit.tflite-graph/1``)."""
    return str(getattr(converter, "CONVERTER_VERSION", None) or getattr(converter, "SPEC_FORMAT", "unknown"))


def save_converted(
    path: str | os.PathLike[str], spec_json: str, tensors: dict[str, torch.Tensor], *, asset: Source,
    converter_version: str,
) -> Path:
    """Write converted weights as safetensors, atomically (temporary file + ``os.replace``).

    Metadata: the graph spec JSON, the source member and its sha256, the posekit and converter versions.
    ``tensors`` is not modified (contiguous CPU copies are written).
    """
    from safetensors.torch import save

    json.loads(spec_json)  # refuse to cache a spec that could not be read back
    data = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    metadata = {"format": "pt", _META_SPEC: spec_json, _META_SOURCE: asset.sha256, _META_MEMBER: asset.member,
                _META_POSEKIT: _posekit_version(), _META_CONVERTER: converter_version}
    with atomic_writer(path) as f:
        f.write(save(data, metadata=metadata))
    return Path(path)


def read_converted(
    path: str | os.PathLike[str], *, asset: Source
) -> tuple[str, dict[str, torch.Tensor], dict[str, str]]:
    """``(spec_json, tensors, metadata)`` of a converted cache file made from ``asset``.

    Raises FileNotFoundError when absent and :class:`StaleCacheError` when the file is not valid safetensors,
    lacks posekit's metadata or was converted from another source file (sha256 differs).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"converted weights {path} do not exist")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as exc:  # safetensors raises its own error types for damaged headers and data
        raise StaleCacheError(f"{path} is corrupt ({type(exc).__name__}: {exc})") from exc
    if metadata.get(_META_SOURCE) != asset.sha256:
        raise StaleCacheError(f"{path} was not converted from {asset.member} (source sha256 "
                              f"{metadata.get(_META_SOURCE)!r}, expected {asset.sha256})")
    spec_json = metadata.get(_META_SPEC, "")
    try:
        json.loads(spec_json)
    except ValueError as exc:
        raise StaleCacheError(f"{path} has no readable graph spec in its metadata ({exc})") from exc
    return spec_json, tensors, metadata


def check_cache(path: str | os.PathLike[str], *, asset: Source, converter: Any
                ) -> tuple[str, dict[str, torch.Tensor]] | str:
    """The cached ``(spec_json, tensors)`` at ``path`` if valid for ``asset`` and the current ``converter``
    (module), else the reason it is not (a string)."""
    path = Path(path)
    if not path.is_file():
        return f"{path} does not exist"
    try:
        spec_json, tensors, metadata = read_converted(path, asset=asset)
    except StaleCacheError as exc:
        return str(exc)
    stored, current = metadata.get(_META_CONVERTER), converter_version(converter)
    if stored != current:
        return f"{path} was converted by converter version {stored!r}, the current one is {current!r}"
    return spec_json, tensors
