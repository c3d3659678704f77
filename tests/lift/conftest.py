"""Fixtures for the lifting tests: the CMU mocap files of the 3D tests (unpacked once per session)."""

from tests.threed.conftest import cmu_amc_dir, cmu_bvh_dir  # noqa: F401  (session-scoped fixtures)
