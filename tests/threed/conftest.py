"""Fixtures for the 3D tests: a few CMU mocap files unpacked once per session into a scratch folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.threed.mocap_archive import extract_members
from tests.conftest import shared_path

AMC_MEMBERS = ("02.asf", "02_01.amc", "02_03.amc")  # subject 02: skeleton, walk, run/jog (archive start: fast)
BVH_MEMBERS = ("02_01.bvh", "39_07.bvh")  # the same walk as 02_01.amc, and another subject's walk cycle


@pytest.fixture(scope="session")
def cmu_amc_dir(tmp_path_factory) -> Path:
    """Folder holding ``02.asf``, ``02_01.amc`` (walk) and ``02_03.amc`` (run/jog)."""
    archive = shared_path("data", "mocap", "cmu", "cmu_asf_amc.tar.xz")
    dest = tmp_path_factory.mktemp("cmu_amc")
    extract_members(archive, [f"asf_amc/subjects/02/{m}" for m in AMC_MEMBERS], dest)
    return dest / "asf_amc" / "subjects" / "02"


@pytest.fixture(scope="session")
def cmu_bvh_dir(tmp_path_factory) -> Path:
    """Folder holding ``02_01.bvh`` and ``39_07.bvh``."""
    archive = shared_path("data", "mocap", "cmu", "cmu_bvh_walkcycles.tar.xz")
    dest = tmp_path_factory.mktemp("cmu_bvh")
    extract_members(archive, [f"bvh_walkcycles/{m}" for m in BVH_MEMBERS], dest)
    return dest / "bvh_walkcycles"


@pytest.fixture(scope="session")
def walk_h36m(cmu_amc_dir) -> np.ndarray:
    """``(T, 17, 3)`` h36m17 joints in world mm of the 02_01 walk (every 4th frame: 30 fps)."""
    from posekit.threed.cmu_h36m import load_amc_h36m17

    return load_amc_h36m17(cmu_amc_dir / "02.asf", cmu_amc_dir / "02_01.amc", stride=4)
