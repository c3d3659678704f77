"""MediaPipe's TFLite models: fetched from the ``mediapipe==0.10.14`` wheel, verified, converted, cached.

posekit never installs mediapipe. The first use of a MediaPipe model downloads the wheel with pip into a temporary
folder (or reads a wheel already on disk: ``wheel=PATH`` / ``posekit weights fetch --from-wheel PATH`` /
``$POSEKIT_MEDIAPIPE_WHEEL``), extracts only the needed ``.tflite`` members, checks their pinned sha256, converts
them to PyTorch with :mod:`posekit.models.tflite` and stores the result as safetensors. Cache layout::

    <cache_dir()>/mediapipe-0.10.14/<stem>.tflite         verified original, kept for re-conversion
    <cache_dir()>/mediapipe-0.10.14/<stem>.safetensors    converted weights; metadata: graph spec JSON,
                                                           source sha256, posekit and converter versions

Every cache file is written to a temporary file and renamed into place (``os.replace``), so concurrent first uses
(two processes converting the same model) never produce a partial file: the last rename wins and both contents
are identical. No lock is needed.

Pinned hashes: computed from ``mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl``
(wheel sha256 a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4). Verified byte-identical (all 14
``.tflite`` members) in ``...-cp311-cp311-macosx_11_0_universal2.whl`` and ``...-cp310-cp310-win_amd64.whl``, so any
platform's 0.10.14 wheel works with ``--from-wheel``. The download itself always asks pip for the manylinux cp311
wheel (``--platform/--python-version``), whatever the local Python, so it also works where mediapipe has no wheel
for the running interpreter.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from posekit.io.atomic import atomic_writer
from posekit.models.converted import check_cache, converter_version, save_converted
from posekit.models.weights import ChecksumError, WeightsError, cache_dir, sha256_file

if TYPE_CHECKING:
    import torch

MEDIAPIPE_VERSION = "0.10.14"
_WHEEL_SIZE = "~36 MB"
_PIP_TARGET = ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--implementation", "cp",
               "--abi", "cp311")
_ENV_WHEEL = "POSEKIT_MEDIAPIPE_WHEEL"
_LICENSE = "Apache-2.0"

Progress = Callable[[str], object]


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TFLiteAsset:
    """One ``.tflite`` file inside the mediapipe wheel.

    Attributes:
        member: path inside the wheel, e.g. ``mediapipe/modules/pose_detection/pose_detection.tflite``.
        sha256: pinned sha256 of the member's bytes (64 lowercase hex digits).
        license: license of the model file.
    """

    member: str
    sha256: str
    license: str = _LICENSE

    @property
    def filename(self) -> str:
        """Base name of the member, e.g. ``pose_detection.tflite``."""
        return self.member.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        """Stem of the member, e.g. ``pose_detection``; names the cache files."""
        return self.filename.rsplit(".", 1)[0]


def _asset(folder: str, stem: str, sha256: str) -> TFLiteAsset:
    return TFLiteAsset(f"mediapipe/modules/{folder}/{stem}.tflite", sha256)



POSE_DETECTION = _asset("pose_detection", "pose_detection",
                        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c")
POSE_LANDMARK_FULL = _asset("pose_landmark", "pose_landmark_full",
                            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f")
PALM_DETECTION_FULL = _asset("palm_detection", "palm_detection_full",
                             "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54")
PALM_DETECTION_LITE = _asset("palm_detection", "palm_detection_lite",
                             "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18")
HAND_LANDMARK_FULL = _asset("hand_landmark", "hand_landmark_full",
                            "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3")
HAND_LANDMARK_LITE = _asset("hand_landmark", "hand_landmark_lite",
                            "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6")
FACE_DETECTION_SHORT_RANGE = _asset("face_detection", "face_detection_short_range",
                                    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8")
FACE_LANDMARK = _asset("face_landmark", "face_landmark",
                       "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814")

MEDIAPIPE_ASSETS: tuple[TFLiteAsset, ...] = (
    POSE_DETECTION, POSE_LANDMARK_FULL, PALM_DETECTION_FULL, PALM_DETECTION_LITE,
    HAND_LANDMARK_FULL, HAND_LANDMARK_LITE, FACE_DETECTION_SHORT_RANGE, FACE_LANDMARK,
)
#: The CLI's vocabulary: ``posekit weights fetch blazepose|hand|face|all``.
MEDIAPIPE_GROUPS: Mapping[str, tuple[TFLiteAsset, ...]] = MappingProxyType({
    "blazepose": (POSE_DETECTION, POSE_LANDMARK_FULL),
    "hand": (PALM_DETECTION_FULL, PALM_DETECTION_LITE, HAND_LANDMARK_FULL, HAND_LANDMARK_LITE),
    "face": (FACE_DETECTION_SHORT_RANGE, FACE_LANDMARK),
})

_OFFLINE_HINT = (
    f"Without network access, download the wheel on another machine (`pip download mediapipe=={MEDIAPIPE_VERSION} "
    "--no-deps --only-binary=:all:`, any platform) and pass it with `posekit weights fetch --from-wheel PATH`, "
    f"`wheel=PATH`, or the environment variable {_ENV_WHEEL}=PATH."
)


def _mp_dir() -> Path:
    return cache_dir() / f"mediapipe-{MEDIAPIPE_VERSION}"


def converted_path(asset: TFLiteAsset) -> Path:
    """Where ``asset``'s converted weights live: ``<cache>/mediapipe-0.10.14/<stem>.safetensors``."""
    return _mp_dir() / f"{asset.name}.safetensors"


def downloadmediapipe_wheel(dest_dir: str | os.PathLike[str]) -> Path:
    """Download the ``mediapipe==0.10.14`` wheel (manylinux cp311, ~36 MB) into ``dest_dir`` with pip; its path.

    Runs ``python -m pip download mediapipe==0.10.14 --no-deps --only-binary=:all: --platform ... -d DEST`` so the
    user's pip configuration (index, proxy, certificates) applies. Raises :class:`WeightsError` with pip's error
    output and the offline alternatives when it fails.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("pip") is None:
        raise WeightsError(f"pip is not available in this Python ({sys.executable}), so posekit cannot download "
                           f"the mediapipe {MEDIAPIPE_VERSION} wheel. {_OFFLINE_HINT}")
    cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps",
           "--only-binary=:all:", *_PIP_TARGET, "--disable-pip-version-check", "--no-input",
           "--progress-bar", "off", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise WeightsError(f"pip could not download mediapipe=={MEDIAPIPE_VERSION} (exit code {proc.returncode}):"
                           f"\n{detail}\n{_OFFLINE_HINT}")
    wheels = sorted(dest.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if len(wheels) != 1:
        raise WeightsError(f"pip reported success but {dest} holds {len(wheels)} mediapipe {MEDIAPIPE_VERSION} "
                           f"wheels ({[w.name for w in wheels]}). {_OFFLINE_HINT}")
    return wheels[0]


def extract_tflite(
    wheel_path: str | os.PathLike[str], assets: Sequence[TFLiteAsset], dest_dir: str | os.PathLike[str]
) -> list[Path]:
    """Extract ``assets`` from a mediapipe wheel into ``dest_dir`` (as ``<dest_dir>/<stem>.tflite``), verified.

    Each member is streamed into a temporary file while hashing; only a member whose sha256 equals the pinned
    one is renamed into place. Raises :class:`ChecksumError` (naming the member, expected and actual hash),
    :class:`WeightsError` (not a zip, member missing, corrupt archive) or FileNotFoundError. Returns the
    written paths in the order of ``assets``.
    """
    wheel_path, dest = Path(wheel_path), Path(dest_dir)
    if not wheel_path.is_file():
        raise FileNotFoundError(f"mediapipe wheel {wheel_path} does not exist")
    try:
        archive = zipfile.ZipFile(wheel_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"{wheel_path} is not a readable wheel (zip) file: {exc}") from exc
    paths = []
    with archive:
        for asset in assets:
            try:
                info = archive.getinfo(asset.member)
            except KeyError:
                raise WeightsError(f"{wheel_path} has no member {asset.member}; posekit needs the files of the "
                                   f"mediapipe {MEDIAPIPE_VERSION} wheel") from None
            target = dest / asset.filename
            digest = hashlib.sha256()
            try:
                with atomic_writer(target) as out, archive.open(info) as src:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
                    if digest.hexdigest() != asset.sha256:
                        raise ChecksumError(
                            f"sha256 mismatch for {asset.member} in {wheel_path}: expected {asset.sha256}, got "
                            f"{digest.hexdigest()} (posekit pins the files of mediapipe {MEDIAPIPE_VERSION}; is "
                            "this wheel another version or damaged?)")
            except zipfile.BadZipFile as exc:
                raise WeightsError(f"{wheel_path} is damaged, reading {asset.member} failed: {exc}") from exc
            paths.append(target)
    return paths


def _tflite_ok(asset: TFLiteAsset) -> bool:
    path = _mp_dir() / asset.filename
    return path.is_file() and sha256_file(path) == asset.sha256


@contextlib.contextmanager
def _wheel_source(wheel: str | os.PathLike[str] | None, names: str, progress: Progress | None):
    source = wheel if wheel is not None else os.environ.get(_ENV_WHEEL) or None
    if source is not None:
        path = Path(source).expanduser()
        if not path.is_file():
            origin = "wheel=" if wheel is not None else f"${_ENV_WHEEL}"
            raise FileNotFoundError(f"mediapipe wheel {path} (given by {origin}) does not exist")
        if progress is not None:
            progress(f"posekit: extracting {names} from {path.name} (one-time)...")
        yield path
        return
    if progress is not None:
        progress(f"posekit: fetching MediaPipe {MEDIAPIPE_VERSION} wheel from PyPI to convert {names} "
                 f"(one-time, {_WHEEL_SIZE})...")
    with tempfile.TemporaryDirectory(prefix="posekit-mediapipe-") as tmp:
        yield downloadmediapipe_wheel(tmp)


def fetch_tflite_assets(
    assets: Sequence[TFLiteAsset], *, wheel: str | os.PathLike[str] | None = None, force: bool = False,
    progress: Progress | None = _print_stderr,
) -> list[Path]:
    """Cached, verified ``.tflite`` paths of ``assets``; at most one wheel is read or downloaded for all of them.

    Missing (or corrupt, or all with ``force=True``) files come from ``wheel``, else ``$POSEKIT_MEDIAPIPE_WHEEL``,
    else a pip download into a temporary folder that is deleted afterwards. ``progress`` receives one line
    before a wheel is read or downloaded (default: printed to stderr; None: silent).
    """
    todo = list({a.member: a for a in assets if force or not _tflite_ok(a)}.values())
    if todo:
        # Once a wheel is open, take every pinned model that is missing, so first uses never download twice.
        others = [a for a in MEDIAPIPE_ASSETS if a.member not in {t.member for t in todo} and not _tflite_ok(a)]
        with _wheel_source(wheel, ", ".join(a.name for a in todo), progress) as wheel_path:
            extract_tflite(wheel_path, todo, _mp_dir())
            if others:  # best effort: only what this wheel holds
                with zipfile.ZipFile(wheel_path) as zf:
                    names = set(zf.namelist())
                extract_tflite(wheel_path, [a for a in others if a.member in names], _mp_dir())
    return [_mp_dir() / a.filename for a in assets]


def fetch_tflite(
    asset: TFLiteAsset, *, wheel: str | os.PathLike[str] | None = None, force: bool = False,
    progress: Progress | None = _print_stderr,
) -> Path:
    """Cached, verified ``.tflite`` path of one asset (see :func:`fetch_tflite_assets`)."""
    return fetch_tflite_assets([asset], wheel=wheel, force=force, progress=progress)[0]


def _converter():
    """The TFLite converter package, imported on first use (it pulls the flatbuffer parser)."""
    from posekit.models import tflite

    return tflite


def _check_cache(asset: TFLiteAsset) -> tuple[str, dict[str, torch.Tensor]] | str:
    """The cached ``(spec_json, tensors)`` if valid for the current converter, else the reason it is not."""
    return check_cache(converted_path(asset), asset=asset, converter=_converter())


def _group_of(asset: TFLiteAsset) -> str:
    return next((g for g, members in MEDIAPIPE_GROUPS.items() if asset in members), "all")


def _convert(asset: TFLiteAsset, tflite_path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    converter = _converter()
    spec_json, tensors = converter.convert_file(tflite_path, name=asset.name)
    save_converted(converted_path(asset), spec_json, tensors, asset=asset,
                   converter_version=converter_version(converter))
    return spec_json, tensors


def load_mediapipe_module(
    asset: TFLiteAsset, *, wheel: str | os.PathLike[str] | None = None, progress: Progress | None = _print_stderr
) -> torch.nn.Module:
    """PyTorch module (eval mode, CPU, float32 as converted) for a MediaPipe TFLite model.

    Uses the converted cache file when it is valid. Otherwise the ``.tflite`` is fetched (see
    :func:`fetch_tflite_assets`), converted with :func:`posekit.models.tflite.convert_file` and cached. A damaged
    or outdated cache file is re-converted from the cached ``.tflite`` (or from ``wheel`` /
    ``$POSEKIT_MEDIAPIPE_WHEEL``); if neither is at hand, :class:`WeightsError` says to run
    ``posekit weights fetch <group> --force``.
    """
    cached = _check_cache(asset)
    if isinstance(cached, tuple):
        spec_json, tensors = cached
    else:
        if converted_path(asset).is_file():  # present but unusable
            if wheel is None and not os.environ.get(_ENV_WHEEL) and not _tflite_ok(asset):
                raise WeightsError(f"{cached}. The original {asset.filename} is not cached, so it cannot be "
                                   f"re-converted here: run `posekit weights fetch {_group_of(asset)} --force` "
                                   "(add --from-wheel PATH when offline)")
            if progress is not None:
                progress(f"posekit: {cached}; re-converting {asset.name}")
        spec_json, tensors = _convert(asset, fetch_tflite(asset, wheel=wheel, progress=progress))
    return _converter().build_module(spec_json, tensors).eval()


def fetch_group(
    name: str, *, wheel: str | os.PathLike[str] | None = None, force: bool = False,
    progress: Progress | None = _print_stderr,
) -> list[Path]:
    """Fetch, verify, convert and cache a named group (``blazepose``, ``hand``, ``face`` or ``all``).

    Returns the converted ``.safetensors`` paths. Valid cache files are kept unless ``force=True``, which
    re-extracts the ``.tflite`` files from a (re-downloaded) wheel and re-converts them. All files of the
    group come from a single wheel read or download.
    """
    if name == "all":
        assets: tuple[TFLiteAsset, ...] = MEDIAPIPE_ASSETS
    elif name in MEDIAPIPE_GROUPS:
        assets = MEDIAPIPE_GROUPS[name]
    else:
        raise ValueError(f"unknown MediaPipe group {name!r}; choose from {', '.join(MEDIAPIPE_GROUPS)} or all")
    todo = [a for a in assets if force or not isinstance(_check_cache(a), tuple)]
    tflites = fetch_tflite_assets(todo, wheel=wheel, force=force, progress=progress)
    for asset, tflite_path in zip(todo, tflites):
        _convert(asset, tflite_path)
    return [converted_path(a) for a in assets]
