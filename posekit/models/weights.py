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
* :func:`fetch_pretrained` is :func:`fetch_weights` for a model's default weights: when they cannot be downloaded
  its message names the model, URL, hash and license and says to pass ``--weights PATH``.
* :func:`load_checkpoint` reads official (MMPose / torchvision-style) checkpoints with
  ``torch.load(weights_only=True)`` only: posekit never unpickles arbitrary objects (and never advises to). Its
  errors tell a file that is not a checkpoint, a truncated one and one holding refused pickled objects apart.

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
import zipfile
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


@dataclass(frozen=True, kw_only=True)
class WeightsSpec:
    """Pretrained weights described as data.

    Attributes:
        url: where the checkpoint is downloaded from (``https://`` or ``file://``).
        sha256: pinned sha256 of the file, lowercase hex; either all 64 digits or a prefix of at least 8
            (OpenMMLab / torch.hub file names carry the first 8 digits). ``None`` when no hash is published (the
            official file name carries none): such a file is never downloaded automatically (an unverified
            download is refused); the user downloads it and passes its path, which is checked by strict loading.
        filename: name of the file in the cache (``<cache>/checkpoints/<filename>``).
        input_size: image models: model input ``(width, height)`` in pixels; ``None`` for models whose input is
            not an image (the 2D -> 3D lifters take keypoint sequences).
        mean, std: image models: per-channel input normalisation ``(x - mean) / std``, in the pixel scale of the
            input (e.g. ``(123.675, 116.28, 103.53)`` for 0-255 RGB), in the model's channel order; both empty
            for other models.
        license: license of the weights (e.g. ``"Apache-2.0"``); repeated in download failure messages.
        source: human-readable origin (paper / repository / model card URL).
        notes: free text (training data, caveats).
        meta: any further data for later users (codec settings, skeleton name, metrics, ...); stored as a
            read-only copy.

    Every field is keyword-only.
    """

    url: str
    sha256: str | None
    filename: str
    license: str
    source: str
    input_size: tuple[int, int] | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    notes: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sha256 is not None and not _HEX.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 8 to 64 lowercase hex digits or None, got {self.sha256!r}")
        if not self.filename or Path(self.filename).name != self.filename:
            raise ValueError(f"filename must be a bare file name, got {self.filename!r}")
        size = None if self.input_size is None else tuple(self.input_size)
        if size is not None and (len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)):
            raise ValueError(f"input_size must be (width, height) positive ints or None, got {self.input_size!r}")
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(mean) != len(std) or (size is not None and not mean):
            raise ValueError(f"mean and std must have the same length (non-zero with an input_size), got {len(mean)} "
                             f"and {len(std)}")
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
        # a fresh opener per download: urlopen() caches the proxy settings of its first call for the process
        response = urllib.request.build_opener().open(request, timeout=timeout)  # noqa: S310 (user-chosen URL)
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

    ``force=True`` downloads again even if a verified copy is cached. Raises :class:`WeightsError` for a spec
    without a published hash (``sha256=None``) unless the user put the file in the cache: posekit never downloads a
    file it cannot verify.
    """
    if spec.sha256 is None:
        if _cached_path(spec).is_file() and not force:  # placed there by the user; strict loading checks it
            return _cached_path(spec)
        raise WeightsError(f"{spec.filename} has no published sha256 (its official file name carries none), so "
                           "posekit does not download it unverified")
    return download_url(spec.url, _cached_path(spec), sha256=spec.sha256, progress=progress, force=force)


def _cached_path(spec: WeightsSpec) -> Path:
    """Where :func:`fetch_weights` keeps ``spec``'s file: ``<cache>/checkpoints/<filename>``."""
    return cache_dir() / "checkpoints" / spec.filename


def fetch_pretrained(spec: WeightsSpec, *, what: str, alternative: str = "", progress: bool = True,
                     flag: str = "--weights") -> Path:
    """:func:`fetch_weights` for a model's default weights, with a failure message that says what to do instead.

    Args:
        spec: the official weights.
        what: the model in words, first in the message (e.g. ``"lifter videopose3d_243f_h36m"``).
        alternative: appended to the advice (e.g. ``", or --random-weights for random initialisation"``).
        progress: tqdm bar on stderr while downloading.
        flag: the command-line option that takes the file instead (named in the message).

    Returns the verified file in ``<cache>/checkpoints/`` (after a download with ``progress``, one line on stderr
    names the file and its license). When it cannot be downloaded or verified (offline, a
    blocked host, a wrong hash) raises :class:`WeightsError` (:class:`ChecksumError` for a hash mismatch) naming
    ``what``, the URL, the expected sha256, the weights' license and ``--weights PATH``.
    """
    cached = _cached_path(spec).is_file()
    try:
        path = fetch_weights(spec, progress=progress)
        if progress and not cached:  # the license travels with the first download, not only with a failure
            print(f"posekit: {what}: downloaded {spec.filename} (license: {spec.license})", file=sys.stderr)
        return path
    except WeightsError as exc:
        reason = exc if isinstance(exc, ChecksumError) or exc.__cause__ is None else exc.__cause__
        digest = ("no published sha256" if spec.sha256 is None else f"sha256 {spec.sha256}" if len(spec.sha256) == 64
                  else f"sha256 starts with {spec.sha256}")
        raise type(exc)(
            f"{what} needs weights: its official checkpoint {spec.url} ({digest}; license: {spec.license}) "
            f"could not be downloaded ({reason}). Download it elsewhere and pass {flag} PATH (weights= in "
            f"Python){alternative}"
        ) from exc


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
    """State dict ``{key: tensor}`` (CPU) of a PyTorch checkpoint or a safetensors file.

    The file's first bytes say what it is: a zip archive (``torch.save`` since PyTorch 1.6), a pickle stream
    (protocol byte ``0x80``: older ``torch.save`` files) or safetensors (an 8-byte header length, then ``{``;
    also recognised by the ``.safetensors`` suffix). PyTorch files are read with
    ``torch.load(path, map_location="cpu", weights_only=True)`` only: tensors, plain Python containers and numpy
    arrays/scalars are read, any other pickled object is refused. Containers are unwrapped: a dict holding
    ``state_dict``, ``model`` or ``module`` (checked in that order, repeatedly) is replaced by that entry, and a
    ``module.`` prefix shared by every key (DistributedDataParallel) is removed. Returns a new dict; keys keep
    the file's order.

    Raises FileNotFoundError (missing file) or :class:`WeightsError` whose message says which case it is: not a
    checkpoint at all (the first bytes are shown), truncated or corrupt, refused pickled objects (named), an
    EMA-only file (only the moving-average copy, see :func:`_refuse_ema_only`), or no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    kind = _sniff(path)
    if kind == "safetensors" or (kind == "other" and path.suffix == ".safetensors"):
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:
            raise WeightsError(f"{path} is not a readable safetensors file: {exc}") from exc
    if kind == "other":
        with open(path, "rb") as f:
            head = f.read(20)
        raise WeightsError(f"{path} is not a PyTorch checkpoint (it starts with {head!r}; expected a .pth/.pt file "
                           "written by torch.save or a .safetensors file)")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        names = _refused_globals(path, exc)
        if names:
            raise WeightsError(_refused_message(path, names)) from exc
        if kind == "zip" and zipfile.is_zipfile(path) and not _has_data_pkl(path):
            raise WeightsError(f"{path} is not a PyTorch checkpoint (a zip archive without the data.pkl that "
                               "torch.save writes; expected a .pth/.pt file written by torch.save or a .safetensors "
                               "file)") from exc
        what = "a zip archive" if kind == "zip" else "a pickle stream"
        raise WeightsError(
            f"{path} is truncated or corrupt: it starts like a torch.save file ({what}) but cannot be read "
            f"({_reason(exc)}); download or copy it again"
        ) from exc
    return _unwrap_state_dict(obj, path)


# torch.save's legacy (pre-zip) format pickles this magic number first: a long of 10 bytes, little-endian.
_LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def _sniff(path: Path) -> str:
    """``"zip"``, ``"pickle"`` (torch.save's legacy format), ``"safetensors"`` or ``"other"`` from a file's first
    bytes. A pickle stream (protocol byte ``0x80``) without torch.save's magic number is "other": torch.load
    could not read it either."""
    with open(path, "rb") as f:
        head = f.read(32)
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80" and _LEGACY_MAGIC in head:
        return "pickle"
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= path.stat().st_size - 8:
        return "safetensors"
    return "other"


def _reason(exc: Exception) -> str:
    """``exc`` in one line, without torch's advice to load with ``weights_only`` off (posekit never does)."""
    text = str(exc)
    if "Weights only load failed" in text:
        found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\n|$)", text, re.S)
        text = found.group(1) if found else "the restricted unpickler stopped"
    first = " ".join(text.split()).split(". ")[0][:200]  # torch's first sentence says what failed
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _has_data_pkl(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n == "data.pkl" or n.endswith("/data.pkl") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _allowed_global_names() -> set[str]:
    names = set()
    for item in _numpy_safe_globals():
        if isinstance(item, tuple):
            names.add(item[1])
        else:
            names.add(f"{item.__module__}.{item.__qualname__}")
    return names


def _refused_globals(path: Path, exc: Exception) -> list[str]:
    """The pickled globals (sorted) that ``weights_only`` loading refused (empty when it failed for another
    reason)."""
    if "Weights only load failed" not in str(exc):
        return []
    try:
        listed = torch.serialization.get_unsafe_globals_in_checkpoint(path)  # zip archives only
    except Exception:  # older pickle files: the error names the first refused global
        listed = re.findall(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    allowed = _allowed_global_names()
    return sorted({n for n in listed if n not in allowed})


def _refused_message(path: Path, names: list[str]) -> str:
    return (
        f"{path} was refused: it holds pickled Python objects other than tensors ({', '.join(names)}), and posekit "
        "never unpickles checkpoints because unpickling can run arbitrary code. Save only the weights from the "
        "program that made the file (torch.save(model.state_dict(), 'weights.pth'), or a .safetensors file), or "
        "use the official checkpoint"
    )


def _refuse_ema_only(obj: Mapping[str, Any], path: Path) -> None:
    """:class:`WeightsError` for a file holding only the exponential-moving-average copy of a model: MMEngine's
    ``{"ema_state_dict": ...}`` without ``state_dict``, the state dict of MMEngine's ``ExponentialMovingAverage``
    (``steps`` + ``module.*``) or mmcv 1.x EMA buffers alone (every key ``ema_*``). Official releases keep the
    weights to use under ``state_dict`` (MMEngine swaps the EMA weights in when it saves)."""
    keys = [str(k) for k in obj]
    if isinstance(obj.get("ema_state_dict"), Mapping):
        kind = "only an 'ema_state_dict' entry (MMEngine's EMAHook) and no 'state_dict'"
    elif "steps" in obj and len(keys) > 1 and all(k.startswith("module.") for k in keys if k != "steps"):
        kind = "the state dict of an EMA wrapper ('steps' + 'module.*', MMEngine's ExponentialMovingAverage)"
    elif keys and all(k.startswith("ema_") for k in keys):
        kind = f"only EMA buffers ({len(keys)} keys 'ema_*', mmcv 1.x's EMAHook)"
    else:
        return
    raise WeightsError(f"{path} is an EMA-only checkpoint: it holds {kind}. posekit loads a model's weights; use the "
                       "released checkpoint, or save the EMA model's weights with torch.save(model.state_dict(), ...)")


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of tensors)")
    _refuse_ema_only(obj, path)
    state = dict(obj)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not state or bad:
        detail = f"non-tensor entries {bad[:5]}" if bad else "no entries"
        raise WeightsError(f"{path} is not a state dict of tensors: {detail} (top-level keys {list(state)[:8]})")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state
