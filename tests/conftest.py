"""Shared test helpers: the read-only ``../shared`` folder of data and reference fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import setuptools  # noqa: F401  (before anything imports stdlib distutils: torch.compile's C++ builder needs
#                                 setuptools' distutils, and a test that imported stdlib's first broke it)

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """Path under ``../shared``; skips the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the read-only ../shared data folder is not next to this checkout)")
    return path
