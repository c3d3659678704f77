"""Pretrained weights as data: describe, download, verify, cache and load checkpoints.

* :class:`WeightsSpec` describes one set of pretrained weights (URL, sha256, input size, normalisation,
  license); each family module (:mod:`posekit.models.vitpose`, ...) holds them as plain data next to its builder.
* :data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`: the input normalisation of the ImageNet-initialised MMPose weights.
* :func:`cache_dir` is where everything downloaded or converted lives: ``$POSEKIT_HOME``, else
  ``$XDG_CACHE_HOME/posekit``, else ``~/.cache/posekit``.
* :func:`download_url`, :func:`fetch_weights`, :func:`verify_sha256` and :func:`posekit.io.atomic.atomic_writer` never leave a half
  written file under its final name: data goes to a temporary file in the same folder, is checked, then renamed
  with ``os.replace`` (atomic on POSIX and Windows). Concurrent first uses therefore never see a partial file; at
  worst two processes download the same file and the last rename wins with identical content.
* :func:`load_checkpoint` reads official (MMPose / torchvision-style) checkpoints with
  ``torch.load(weights_only=True)`` only: posekit never unpickles arbitrary objects.

The MediaPipe part (TFLite assets inside the ``mediapipe==0.10.14`` wheel, conversion to PyTorch, safetensors
cache) lives in :mod:`posekit.models.mediapipe_wheel`, which builds on this module.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from posekit.io.atomic import atomic_writer

_CHUNK = 1 << 20

# PoseDataPreprocessor of every official MMPose top-down config: per-channel RGB mean / std on the 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_HEX = re.compile(r"[0-9a-f]{8,64}")


class WeightsError(RuntimeError):
    """A weights file could not be obtained, read or trusted (message says which file and what to do)."""


class ChecksumError(WeightsError):
    """A file's sha256 differs from the pinned one."""


@dataclass(frozen=True)
class WeightsSpec:
    """Pretrained weights described as data.

    Attributes:
        url: where the checkpoint is downloaded from (``https://`` or ``file://``).
        sha256: pinned sha256 of the file, lowercase hex; either all 64 digits or a prefix of at least 8
            (OpenMMLab / torch.hub file names carry the first 8 digits).
        filename: name of the file in the cache (``<cache>/checkpoints/<filename>``).
        input_size: model input ``(width, height)`` in pixels.
        mean, std: per-channel input normalisation ``(x - mean) / std``, in the pixel scale of the input
            (e.g. ``(123.675, 116.28, 103.53)`` for 0-255 RGB), in the model's channel order.
        license: license of the weights (e.g. ``"Apache-2.0"``).
        source: human-readable origin (paper / repository / model card URL).
        notes: free text (training data, caveats).
        meta: any further data for later users (codec settings, skeleton name, metrics, ...); stored as a
            read-only copy.
    """

    url: str
    sha256: str
    filename: str
    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    license: str
    source: str
    notes: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _HEX.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 8 to 64 lowercase hex digits, got {self.sha256!r}")
        if not self.filename or Path(self.filename).name != self.filename:
            raise ValueError(f"filename must be a bare file name, got {self.filename!r}")
        size = tuple(self.input_size)
        if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
            raise ValueError(f"input_size must be (width, height) positive ints, got {self.input_size!r}")
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(mean) != len(std) or not mean:
            raise ValueError(f"mean and std must have the same non-zero length, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {std}")
        object.__setattr__(self, "input_size", size)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))


def cache_dir() -> Path:
    """posekit's cache folder, created on demand.

    ``$POSEKIT_HOME`` if set, else ``$XDG_CACHE_HOME/posekit``, else ``~/.cache/posekit``.
    """
    home = os.environ.get("POSEKIT_HOME")
    if home:
        path = Path(home).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        path = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "posekit"
    else:
        path = Path.home() / ".cache" / "posekit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Lowercase hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_expected(expected: str) -> str:
    expected = expected.lower()
    if not _HEX.fullmatch(expected):
        raise ValueError(f"expected sha256 must be 8 to 64 hex digits, got {expected!r}")
    return expected


def _matches(actual: str, expected: str) -> bool:
    return actual.startswith(expected)


def verify_sha256(path: str | os.PathLike[str], expected: str) -> Path:
    """Check that ``path`` hashes to ``expected`` (full sha256 or a prefix of >= 8 hex digits).

    Returns the path; raises FileNotFoundError when it is missing and :class:`ChecksumError` (naming the file,
    the expected and the actual hash) when it differs.
    """
    expected = _check_expected(expected)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot verify {path}: no such file")
    actual = sha256_file(path)
    if not _matches(actual, expected):
        raise ChecksumError(f"sha256 mismatch for {path}: expected {expected}, got {actual}")
    return path


def download_url(
    url: str, dest: str | os.PathLike[str], *, sha256: str, progress: bool = True, force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (streamed, tqdm bar on stderr), verify its sha256, then move it into place.

    ``sha256`` is the full digest or a prefix of >= 8 hex digits. A ``dest`` that already exists with the right
    hash is returned without downloading unless ``force=True`` (a failed forced download leaves the old file in
    place). Raises :class:`WeightsError` when the URL cannot be read and
    :class:`ChecksumError` when the bytes do not match; in both cases no file is left at ``dest``.
    ``file://`` URLs work too.
    """
    expected = _check_expected(sha256)
    dest = Path(dest)
    if not force and dest.is_file() and _matches(sha256_file(dest), expected):
        return dest
    request = urllib.request.Request(url, headers={"User-Agent": "posekit"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (user-chosen weights URL)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WeightsError(
            f"could not download {url}: {exc}. If this machine is offline, download the file elsewhere "
            f"and pass its path instead (expected sha256 {expected})"
        ) from exc
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        digest, received = hashlib.sha256(), 0
        with atomic_writer(dest) as f, tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
            disable=not progress, file=sys.stderr, leave=False,
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise WeightsError(f"download of {url} was interrupted: {exc!r}") from exc
            if total is not None and received != total:
                raise WeightsError(f"download of {url} is incomplete: got {received} of {total} bytes")
            actual = digest.hexdigest()
            if not _matches(actual, expected):
                raise ChecksumError(f"sha256 mismatch for {url}: expected {expected}, got {actual}")
    return dest


def fetch_weights(spec: WeightsSpec, *, force: bool = False, progress: bool = True) -> Path:
    """Path of ``spec``'s checkpoint in ``<cache>/checkpoints/``, downloading and verifying it when needed.

    ``force=True`` downloads again even if a verified copy is cached.
    """
    dest = cache_dir() / "checkpoints" / spec.filename
    return download_url(spec.url, dest, sha256=spec.sha256, progress=progress, force=force)


def _numpy_safe_globals() -> list[Any]:
    """Globals that rebuild plain numpy arrays/scalars; real MMPose 1.x checkpoints keep numpy arrays in ``meta``.

    They are allowlisted for ``weights_only=True`` under both the numpy 2 (``numpy._core``) and numpy 1
    (``numpy.core``) module names that pickles carry. Object arrays still unpickle their items with the
    restricted unpickler, so nothing arbitrary runs.
    """
    core = getattr(np, "_core", None) or np.core
    multiarray = core.multiarray
    out: list[Any] = [np.ndarray, np.dtype]
    for fn in (multiarray._reconstruct, multiarray.scalar):
        out += [fn, (fn, f"numpy.core.multiarray.{fn.__name__}"), (fn, f"numpy._core.multiarray.{fn.__name__}")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return out


_CONTAINER_KEYS = ("state_dict", "model", "module")


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """State dict ``{key: tensor}`` (CPU) of a PyTorch checkpoint or a ``.safetensors`` file.

    ``torch.load(path, map_location="cpu", weights_only=True)`` only: tensors, plain Python containers and
    numpy arrays/scalars are read, any other pickled object is refused. Containers are unwrapped: a dict holding
    ``state_dict``, ``model`` or ``module`` (checked in that order, repeatedly) is replaced by that entry, and a
    ``module.`` prefix shared by every key (DistributedDataParallel) is removed. Returns a new dict; keys keep
    the file's order.

    Raises FileNotFoundError (missing file) or :class:`WeightsError` (not a checkpoint, refused pickled objects,
    no tensors).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:
            raise WeightsError(f"{path} is not a readable safetensors file: {exc}") from exc
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "Weights only load failed" in str(exc):
            raise WeightsError(_refused_message(path)) from exc
        raise WeightsError(
            f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
            "it may be truncated (re-download it) or not a torch.save file"
        ) from exc
    return _unwrap_state_dict(obj, path)


def _refused_message(path: Path) -> str:
    try:
        names = ", ".join(torch.serialization.get_unsafe_globals_in_checkpoint(path)) or "unknown"
    except Exception:  # the listing is a nicety; the refusal itself is what matters
        names = "unknown"
    return (
        f"{path} contains pickled Python objects other than tensors ({names}); posekit loads checkpoints with "
        "torch.load(weights_only=True) and never unpickles arbitrary objects, because unpickling can run code. "
        "If you trust the file, save its tensors once in a clean file: "
        f"python -c \"import torch; c = torch.load('{path}', weights_only=False); "
        "torch.save(c.get('state_dict', c), 'clean.pth')\" and load clean.pth"
    )


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of tensors)")
    state = dict(obj)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not state or bad:
        detail = f"non-tensor entries {bad[:5]}" if bad else "no entries"
        raise WeightsError(f"{path} is not a state dict of tensors: {detail} (top-level keys {list(state)[:8]})")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state
